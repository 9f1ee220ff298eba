using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Core.Batches;
using RelayCluster.Core.Tenants;
using RelayCluster.Redis;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Batches;

/// <summary>
/// A task whose workers keep dying while they hold it (a crash the task itself causes, say) is leased no more than
/// MaxTaskAttempts times: the attempt count lives in Redis with the task, so a silo started afterwards still knows it
/// and fails the batch instead of running the task again.
/// </summary>
public sealed class DeadWorkerTests : IAsyncLifetime
{
    private const string Key = "sk-dead-worker-tenant-7f3a9c2e5b1d";
    private readonly RedisServer _redis = new();

    public Task InitializeAsync() => _redis.InitializeAsync();

    public Task DisposeAsync() => _redis.DisposeAsync();

    // A well-formed id: the API refuses any other shape before it reaches the store.
    private static readonly string DeadBatch = BatchIds.New();

    [Fact]
    public async Task A_task_leased_MaxTaskAttempts_times_by_workers_that_died_fails_its_batch_on_the_next_lease()
    {
        var store = new RedisBatchStore(_redis.Connection, new JournaledTenantGrains(new RedisTenantJournal(_redis.Connection), new TenantStoreOptions(60_000), TimeProvider.System), TimeProvider.System);
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        await store.CreateAsync(new BatchCreation(DeadBatch, "a", "/v1/chat/completions", "file-x", null, now, now + 86_400));

        // Three workers lease the validation and die (never renew, never complete): each lease is an attempt.
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            var lease = await Eventually.WaitAsync(
                () => store.LeaseAsync($"dead{attempt}", TimeSpan.FromMilliseconds(1)).AsTask(), l => l is not null, TimeSpan.FromSeconds(5));
            Assert.Equal((BatchTaskKind.Validate, attempt), (lease!.Kind, lease.Attempt));
        }

        using var host = new RelayHost(RelayHost.SimulatorSettings(
            ("Relay:Store", "redis"), ("Relay:Redis", _redis.ConnectionString), ("Relay:Tenants:a:Keys:0", Key),
            ("Relay:Batches:MaxTaskAttempts", "3"), ("Relay:Batches:LeaseSeconds", "1")));
        using var client = host.ClientFor(Key);
        var batch = await Eventually.WaitAsync(
            async () => (await client.GetFromJsonAsync<JsonObject>($"/v1/batches/{DeadBatch}"))!, b => (string?)b["status"] == "failed");

        Assert.Equal("failed", (string?)batch!["status"]);
        var error = batch["errors"]!["data"]![0]!;
        Assert.Equal("batch_task_failed", (string?)error["code"]);
        Assert.Contains("validating the input file did not succeed in 3 attempts", (string?)error["message"], StringComparison.Ordinal);
        Assert.Null(await store.LeaseAsync("after", TimeSpan.FromMilliseconds(1))); // the task is gone
    }
}
