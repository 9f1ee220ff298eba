using RelayCluster.Core.Batches;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;
using RelayCluster.Redis;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Batches;

public sealed class MemoryBatchStoreTests : BatchStoreContract
{
    private readonly JournaledTenantGrains _tenants;
    private readonly MemoryBatchStore _store;

    public MemoryBatchStoreTests()
    {
        _tenants = JournaledTenantGrains.Embedded(new DiscardingLedger(), TenantOptions, Clock);
        _store = new MemoryBatchStore(Faults.Wrap(_tenants), new BatchWorkSignal(), Clock);
    }

    protected override (IBatchStore Batches, ITenantGrainFactory Tenants) Store() => (_store, _tenants);

    [Fact]
    public async Task Tenants_are_leased_in_turn_and_a_retry_waits_for_its_time()
    {
        foreach (var (tenant, count) in new[] { ("big", 3), ("small", 2) })
        {
            for (var i = 0; i < count; i++)
            {
                await _store.CreateAsync(new BatchCreation($"batch_{tenant}{i}", tenant, "/v1/embeddings", "file-x", null, 1, 2));
            }
        }

        var order = new List<BatchLease>();
        while (await _store.LeaseAsync("w", TimeSpan.FromSeconds(30)) is { } lease)
        {
            order.Add(lease);
        }

        Assert.Equal(["big", "small", "big", "small", "big"], order.Select(l => l.TenantId));
        await _store.RetryLaterAsync(order[0], TimeSpan.FromSeconds(5));
        Assert.Null(await _store.LeaseAsync("w", TimeSpan.FromSeconds(30)));
        Clock.Advance(TimeSpan.FromSeconds(5));
        var again = await _store.LeaseAsync("w", TimeSpan.FromSeconds(30));
        Assert.Equal((order[0].EntryId, 2), (again!.EntryId, again.Attempt));
    }

    private sealed class DiscardingLedger : IUsageLedger
    {
        public void Append(UsageRecord record)
        {
        }

        public IReadOnlyDictionary<string, long> SpentByTenant(string month) => new Dictionary<string, long>();

        public Task FlushAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;
    }
}

[Collection(RedisCollection.Name)]
public sealed class RedisBatchStoreTests(RedisServer redis) : BatchStoreContract
{
    private (IBatchStore, ITenantGrainFactory)? _stores;

    protected override (IBatchStore Batches, ITenantGrainFactory Tenants) Store()
    {
        if (_stores is null)
        {
            var tenants = new JournaledTenantGrains(new RedisTenantJournal(redis.Connection), TenantOptions, Clock);
            _stores = (new RedisBatchStore(redis.Connection, Faults.Wrap(tenants), Clock), tenants);
        }

        return _stores.Value;
    }

    [Fact]
    public async Task A_lease_not_renewed_is_taken_over_and_the_old_holder_can_no_longer_renew_it()
    {
        var store = (RedisBatchStore)Store().Batches;
        var tenant = NewTenant();
        await store.CreateAsync(new BatchCreation("batch_t", tenant, "/v1/embeddings", "file-x", null, 1, 2));
        BatchLease? held = null;
        while (held?.TenantId != tenant)
        {
            held = await store.LeaseAsync("dead", TimeSpan.FromMinutes(5));
        }

        Assert.True(await store.RenewAsync(held));
        // Another silo claims leases idle for 50 ms or more: real Redis idle time, hence a wait on a condition.
        var taken = await Eventually.WaitAsync(async () =>
        {
            var lease = await store.LeaseAsync("alive", TimeSpan.FromMilliseconds(50));
            if (lease is not null && lease.TenantId != tenant)
            {
                await store.ReleaseAsync(lease); // another test's task
            }

            return lease?.TenantId == tenant ? lease : null;
        }, lease => lease is not null);
        Assert.NotNull(taken);
        Assert.Equal(held.EntryId, taken.EntryId);
        Assert.Equal((1, 2), (held.Attempt, taken.Attempt)); // the holder died: its lease counts as an attempt
        Assert.False(await store.RenewAsync(held));
        Assert.True(await store.RenewAsync(taken));
        await store.CompleteTaskAsync(taken);
    }
}
