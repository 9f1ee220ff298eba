using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;
using static RelayCluster.Tests.Host.TenantDeletionTests;

namespace RelayCluster.Tests.Host;

/// <summary>
/// The same promises in the cluster: a silo that joins (or restarts) after a delete does not re-seed the deleted tenant
/// or a revoked key, and a tenant re-created with a deleted id finds none of its data on any silo.
/// </summary>
public sealed class RedisTenantDeletionTests : RedisRelay, IDisposable
{
    private const string Key1 = "sk-redis-deleted-one-7f3a9c2e5b1d";
    private const string Key2a = "sk-redis-deleted-two-a-7f3a9c2e5b1d";
    private const string Key2b = "sk-redis-deleted-two-b-7f3a9c2e5b1d";

    private readonly TempDirectory _files = new();

    public void Dispose() => _files.Dispose();

    protected override (string Key, string? Value)[] Settings() =>
    [
        ("Relay:Tenants:t1:Keys:0", Key1),
        ("Relay:Tenants:t1:MonthlyBudgetUsd", "10"),
        ("Relay:Tenants:t2:Keys:0", Key2a),
        ("Relay:Tenants:t2:Keys:1", Key2b),
        ("Relay:Files:Path", _files.Path),
    ];

    /// <summary>Another silo of the same cluster (same Redis, same file volume), started now.</summary>
    private RelayHost JoinSilo() => new(RelayHost.SimulatorSettings(
        [("Relay:Store", "redis"), ("Relay:Redis", Redis.ConnectionString), .. Settings()]));

    [Fact]
    public async Task A_silo_started_after_a_delete_does_not_re_seed_the_tenant_or_a_revoked_key()
    {
        using (var admin = Host.ClientFor(RelayHost.AdminKey))
        {
            Assert.Equal(HttpStatusCode.OK, await ChatAsync(Host, Key1));
            (await admin.DeleteAsync("/admin/tenants/t1")).EnsureSuccessStatusCode();
            (await admin.DeleteAsync($"/admin/tenants/t2/keys/{KeyId(Key2a)}")).EnsureSuccessStatusCode();
        }

        using var joined = JoinSilo();
        using var joinedAdmin = joined.ClientFor(RelayHost.AdminKey);
        foreach (var silo in new[] { joined, Host })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, await ChatAsync(silo, Key1));
            Assert.Equal(HttpStatusCode.Unauthorized, await ChatAsync(silo, Key2a));
            Assert.Equal(HttpStatusCode.OK, await ChatAsync(silo, Key2b));
        }

        Assert.Equal(HttpStatusCode.NotFound, (await joinedAdmin.GetAsync("/admin/tenants/t1")).StatusCode);

        // An explicit create brings the id back, with a new key only; a later silo leaves it as it is.
        var key = (string)(await CreateAsync(joinedAdmin, "t1"))["key"]!["key"]!;
        using var later = JoinSilo();
        Assert.Equal(HttpStatusCode.OK, await ChatAsync(later, key));
        Assert.Equal(HttpStatusCode.Unauthorized, await ChatAsync(later, Key1));
    }

    [Fact]
    public async Task A_re_created_tenant_sees_none_of_the_deleted_tenants_data_on_any_silo()
    {
        using var old = Host.ClientFor(Key1);
        var (fileId, batchId, streamId) = await LeaveDataAsync(Host, old);
        Assert.True((long)(await Host.QuotaAsync("t1"))["spent_nanos"]! > 0);

        using var admin = Host.ClientFor(RelayHost.AdminKey);
        (await admin.DeleteAsync("/admin/tenants/t1")).EnsureSuccessStatusCode();
        var key = (string)(await CreateAsync(admin, "t1"))["key"]!["key"]!;

        using var fresh = Host.ClientFor(key);
        // Fresh windows: read before the calls below, which count against the new tenant's RPM (files, batches and
        // stream tokens are admitted like any call) but never its tokens.
        var quota = await Host.QuotaAsync("t1");
        Assert.Equal(0, (long)quota["requests_in_window"]!);
        Assert.Equal(0, (long)quota["tokens_in_window"]!);
        await AssertNothingInheritedAsync(Host, fresh, fileId, batchId, streamId, expectedSpend: 0);
        Assert.Equal(0, (long)(await Host.QuotaAsync("t1"))["tokens_in_window"]!);

        // The deleted tenant's usage is kept for audit, apart from the new tenant's.
        var archived = (StackExchange.Redis.RedisResult[])(await Redis.Connection.ExecuteAsync("KEYS", "{t:t1}#deleted:*:usage:*"))!;
        var archivedUsage = Assert.Single(archived);
        // Read as every usage reader reads the hash (commits write its slices; the summary is derived from them).
        var kept = new RelayCluster.Redis.RedisUsageHash(await Redis.Connection.HashGetAllAsync((string)archivedUsage!)).Summary("t1", "");
        Assert.True(kept.Requests >= 2);
        Assert.Single((StackExchange.Redis.RedisResult[])(await Redis.Connection.ExecuteAsync("KEYS", "{t:t1}#deleted:*:ledger"))!);

        // A silo that starts now (a restart or a scale-out) sees the same.
        using var joined = JoinSilo();
        using var joinedClient = joined.ClientFor(key);
        await AssertNothingInheritedAsync(joined, joinedClient, fileId, batchId, streamId, expectedSpend: 0);
        Assert.Equal(HttpStatusCode.OK, (await joinedClient.GetAsync("/v1/models")).StatusCode);
    }
}
