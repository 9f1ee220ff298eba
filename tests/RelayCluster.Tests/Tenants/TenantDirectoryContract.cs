using RelayCluster.Core.Auth;
using RelayCluster.Redis;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Tenants;

/// <summary>What every tenant directory must do, run against the memory and the Redis directory.</summary>
public abstract class TenantDirectoryContract
{
    /// <summary>Two views of one directory, as two silos have (the same object in memory).</summary>
    protected abstract Task<(ITenantDirectory Writer, ITenantDirectory Reader)> DirectoriesAsync();

    private static string NewId() => "d-" + Guid.NewGuid().ToString("N");

    [Fact]
    public async Task A_tenant_is_created_once_with_keys_found_by_hash_only()
    {
        var (directory, _) = await DirectoriesAsync();
        var id = NewId();
        var key = ApiKeys.From("sk-" + id, 100);

        Assert.True(await directory.CreateAsync(new TenantEntry(id, ["mock-*"], 100), [key]));
        Assert.False(await directory.CreateAsync(new TenantEntry(id, ["*"], 200), []));

        Assert.Equal(id, await directory.FindTenantIdAsync(key.Hash));
        Assert.Null(await directory.FindTenantIdAsync(ApiKeyHash.Of("sk-someone-else")));
        Assert.Equal(["mock-*"], (await directory.GetAsync(id))!.Models);
        Assert.Contains(id, await directory.ListAsync());
        var listed = Assert.Single(await directory.ListKeysAsync(id));
        Assert.Equal(key.Entry, listed);
        Assert.DoesNotContain("sk-" + id, listed.Prefix, StringComparison.Ordinal); // only a redacted prefix is kept
    }

    [Fact]
    public async Task Keys_are_added_and_revoked_and_a_deleted_tenant_takes_its_keys_along()
    {
        var (directory, _) = await DirectoriesAsync();
        var id = NewId();
        var first = ApiKeys.From("sk-a-" + id, 1);
        var second = ApiKeys.From("sk-b-" + id, 2);
        await directory.CreateAsync(new TenantEntry(id, ["*"], 1), [first]);

        Assert.True(await directory.AddKeyAsync(id, second));
        Assert.False(await directory.AddKeyAsync(id, second)); // a key belongs to one tenant, once
        Assert.True(await directory.RevokeKeyAsync(id, first.Entry.Id));
        Assert.False(await directory.RevokeKeyAsync(id, first.Entry.Id));
        Assert.Null(await directory.FindTenantIdAsync(first.Hash));
        Assert.Equal(id, await directory.FindTenantIdAsync(second.Hash));

        Assert.True(await directory.SetModelsAsync(id, ["gpt-4*"]));
        Assert.True(await directory.DeleteAsync(id));
        Assert.Null(await directory.FindTenantIdAsync(second.Hash));
        Assert.Null(await directory.GetAsync(id));
        Assert.False(await directory.AddKeyAsync(id, first));
    }

    [Fact]
    public async Task Every_view_hears_of_a_change_within_a_second()
    {
        var (writer, reader) = await DirectoriesAsync();
        var heard = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        reader.Changed += () => heard.TrySetResult();

        await writer.CreateAsync(new TenantEntry(NewId(), ["*"], 1), []);

        await heard.Task.WaitAsync(TimeSpan.FromSeconds(1));
    }
}

public sealed class MemoryTenantDirectoryTests : TenantDirectoryContract
{
    protected override Task<(ITenantDirectory Writer, ITenantDirectory Reader)> DirectoriesAsync()
    {
        var directory = new MemoryTenantDirectory();
        return Task.FromResult<(ITenantDirectory, ITenantDirectory)>((directory, directory));
    }
}

[Collection(RedisCollection.Name)]
public sealed class RedisTenantDirectoryTests(RedisServer redis) : TenantDirectoryContract
{
    protected override async Task<(ITenantDirectory Writer, ITenantDirectory Reader)> DirectoriesAsync()
    {
        // The reader is another silo: its own connection, told of changes by pub/sub only.
        var otherSilo = await RedisConnection.ConnectAsync(redis.ConnectionString);
        return (await RedisTenantDirectory.StartAsync(redis.Connection), await RedisTenantDirectory.StartAsync(otherSilo));
    }
}
