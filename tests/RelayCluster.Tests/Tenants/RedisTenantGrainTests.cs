using RelayCluster.Core.Auth;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Tenants;
using RelayCluster.Redis;

namespace RelayCluster.Tests.Tenants;

/// <summary>The tenant contract on the Orleans grain with the Redis journal, and what only a shared Redis has to show.</summary>
public sealed class RedisTenantGrainTests(RedisTenantGrainCluster cluster)
    : TenantGrainClusterContract<RedisTenantGrainCluster>(cluster), IClassFixture<RedisTenantGrainCluster>
{
    protected override async Task<(long Records, long CostNanos)> LedgerAsync(ITenantGrain grain)
    {
        var usage = await new RedisUsageLedger(Cluster.Redis.Connection).GetSummaryAsync(Tenants[grain], (await grain.GetQuotaAsync()).Month);
        // Records in the ledger stream: one commit's records an entry, a field each.
        var entries = (StackExchange.Redis.RedisResult[])(await Cluster.Redis.Connection.ExecuteAsync("XRANGE", "{t:" + Tenants[grain] + "}:ledger", "-", "+"))!;
        var stream = entries.Sum(e => ((StackExchange.Redis.RedisResult[])((StackExchange.Redis.RedisResult[])e!)[1]!).Length / 2L);
        Assert.Equal(usage.Requests, stream); // the totals and the ledger stream are written by the same commit
        return (usage.Requests, usage.CostNanos);
    }

    [Fact]
    public async Task Configuration_seeds_a_tenant_once_and_never_overwrites_admin_changes()
    {
        var id = "seed-" + Guid.NewGuid().ToString("N");
        var configured = new ConfiguredTenants(new RelayOptions
        {
            Tenants = { [id] = new TenantOptions { Keys = ["sk-" + id], RequestsPerMinute = 5, Models = ["*"] } },
        });
        var directory = await RedisTenantDirectory.StartAsync(Cluster.Redis.Connection);
        var factory = Cluster.Factory();
        await configured.SeedAsync(directory, factory, createdAt: 1);
        Assert.Equal(5, (await factory.GetTenant(id).GetQuotaAsync()).Limits.RequestsPerMinute);

        // An admin raises the limit and revokes the configured key; then the silo restarts with the old file.
        await factory.GetTenant(id).SetLimitsAsync(new TenantLimits(7, null, null, null));
        Assert.True(await directory.RevokeKeyAsync(id, ApiKeys.From("sk-" + id, 1).Entry.Id));
        await configured.SeedAsync(directory, Cluster.Factory(1), createdAt: 2);

        Assert.Equal(7, (await Cluster.Factory(1).GetTenant(id).GetQuotaAsync()).Limits.RequestsPerMinute);
        Assert.Null(await directory.FindTenantIdAsync(ApiKeyHash.Of("sk-" + id)));
    }

    [Fact]
    public async Task Two_silos_admitting_one_tenant_concurrently_share_every_window_exactly()
    {
        var id = "shared-" + Guid.NewGuid().ToString("N");
        var silos = new[] { Cluster.Factory(0), Cluster.Factory(1) };
        await silos[0].GetTenant(id).SetLimitsAsync(new TenantLimits(20, null, null, null));

        var results = await Task.WhenAll(Enumerable.Range(0, 200).Select(i =>
            Task.Run(async () => await silos[i % 2].GetTenant(id).AdmitAsync(new AdmissionRequest($"r{i}", 1, 0)))));

        Assert.Equal(20, results.Count(r => r.IsAdmitted));
        Assert.Equal(20, (long)await Cluster.Redis.Connection.ExecuteAsync("HLEN", "{t:" + id + "}:res"));
    }

    [Fact]
    public async Task A_new_activation_loads_exactly_what_the_last_one_committed()
    {
        var grain = await GrainAsync(new TenantLimits(10, 1000, 5, 10_000));
        await grain.AdmitAsync(new AdmissionRequest("open", 100, 300));
        await grain.AdmitAsync(new AdmissionRequest("done", 50, 200));
        await grain.SettleAsync(Settle("done", 40, 150));
        await grain.SetPausedAsync(true);
        var before = await grain.GetQuotaAsync();

        // Another activation takes over (as after its silo died): it fences this one and reads what was committed.
        var id = Tenants[grain];
        var (epoch, image) = await Cluster.Journal.LoadAsync(id);
        var book = new TenantBook(id, image, Options, Clock.GetUtcNow().ToUnixTimeMilliseconds());

        Assert.Equal(before, book.Quota(Clock.GetUtcNow().ToUnixTimeMilliseconds()));
        Assert.True(epoch > 1);

        // The old activation is fenced: its next turn fails, and the one after runs on a fresh activation with the same state.
        await Assert.ThrowsAsync<StoreUnavailableException>(async () => await grain.SetPausedAsync(false));
        var after = await WaitForAsync(grain.GetQuotaAsync);
        Assert.Equal(before, after);
    }

    [Fact]
    public async Task Spend_and_limits_survive_a_redis_restart_with_aof()
    {
        var grain = await GrainAsync(new TenantLimits(10, null, null, 1000));
        await grain.AdmitAsync(new AdmissionRequest("a", 1, 300));
        await grain.SettleAsync(Settle("a", 1, 250));

        await Cluster.Redis.RestartAsync();

        var (_, image) = await WaitForAsync(() => new ValueTask<TenantJournalLoad>(Cluster.Journal.LoadAsync(Tenants[grain])));
        Assert.Equal((250L, 10), (image.State!.Value.SpentNanos, image.State.Value.Limits.RequestsPerMinute));
        Assert.Equal((1, 250), await WaitForAsync(() => new ValueTask<(long, long)>(LedgerAsync(grain))));
    }

    [Fact]
    public async Task An_unreachable_redis_is_a_store_unavailable_error_not_a_hang()
    {
        var journal = new RedisTenantJournal(await RedisConnection.ConnectAsync("127.0.0.1:1"));
        await Assert.ThrowsAsync<StoreUnavailableException>(() => journal.LoadAsync("x"));
    }

    /// <summary>The client reconnects by itself after a restart; wait for that with a deadline.</summary>
    private static async Task<T> WaitForAsync<T>(Func<ValueTask<T>> turn)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            try
            {
                return await turn();
            }
            catch (StoreUnavailableException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }
}
