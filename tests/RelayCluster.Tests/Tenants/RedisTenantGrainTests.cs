using RelayCluster.Core.Auth;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Tenants;
using RelayCluster.Redis;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Tenants;

[Collection(RedisCollection.Name)]
public sealed class RedisTenantGrainTests(RedisServer redis) : TenantGrainContract
{
    private readonly Dictionary<ITenantGrain, string> _tenants = [];

    protected override async Task<ITenantGrain> GrainAsync(TenantLimits limits)
    {
        var id = "t-" + Guid.NewGuid().ToString("N");
        var grain = Factory().GetTenant(id);
        await grain.SetLimitsAsync(limits);
        _tenants[grain] = id;
        return grain;
    }

    protected override async Task<(long Records, long CostNanos)> LedgerAsync(ITenantGrain grain)
    {
        var usage = await new RedisUsageLedger(redis.Connection).GetSummaryAsync(_tenants[grain], (await grain.GetQuotaAsync()).Month);
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
        var directory = await RedisTenantDirectory.StartAsync(redis.Connection);
        var factory = Factory();
        await configured.SeedAsync(directory, factory, createdAt: 1);
        Assert.Equal(5, (await factory.GetTenant(id).GetQuotaAsync()).Limits.RequestsPerMinute);

        // An admin raises the limit and revokes the configured key; then the silo restarts with the old file.
        await factory.GetTenant(id).SetLimitsAsync(new TenantLimits(7, null, null, null));
        Assert.True(await directory.RevokeKeyAsync(id, ApiKeys.From("sk-" + id, 1).Entry.Id));
        await configured.SeedAsync(directory, factory, createdAt: 2);

        Assert.Equal(7, (await factory.GetTenant(id).GetQuotaAsync()).Limits.RequestsPerMinute);
        Assert.Null(await directory.FindTenantIdAsync(ApiKeyHash.Of("sk-" + id)));
    }

    [Fact]
    public async Task Two_factories_on_one_redis_share_every_window_exactly()
    {
        // Two silos' worth of grains for one tenant, admitting concurrently: one limit between them.
        var id = "shared-" + Guid.NewGuid().ToString("N");
        var silos = new[] { Factory(), Factory(), Factory() };
        await silos[0].GetTenant(id).SetLimitsAsync(new TenantLimits(20, null, null, null));

        var results = await Task.WhenAll(Enumerable.Range(0, 200).Select(i =>
            Task.Run(async () => await silos[i % 3].GetTenant(id).AdmitAsync(new AdmissionRequest($"r{i}", 1, 0)))));

        Assert.Equal(20, results.Count(r => r.IsAdmitted));
    }

    [Fact]
    public async Task Spend_and_limits_survive_a_redis_restart_with_aof()
    {
        var grain = await GrainAsync(new TenantLimits(10, null, null, 1000));
        await grain.AdmitAsync(new AdmissionRequest("a", 1, 300));
        await grain.SettleAsync(Settle("a", 1, 250));

        await redis.RestartAsync();

        var quota = await WaitForAsync(grain.GetQuotaAsync);
        Assert.Equal((250L, 10), (quota.SpentNanos, quota.Limits.RequestsPerMinute));
        Assert.Equal((1, 250), await LedgerAsync(grain));
    }

    [Fact]
    public async Task A_turn_stamped_before_a_second_boundary_still_counts_turns_stamped_past_it_that_ran_first()
    {
        // Each silo stamps a turn with its clock before sending it, so under load a turn stamped at :00.999 can
        // reach Redis after turns stamped at :01.001 (another silo, or a thread preempted in between). Their
        // bucket is in this turn's future; were it left out, the limit would be exceeded.
        var grain = await GrainAsync(new TenantLimits(2, null, null, null));
        var late = new RedisTenantGrainFactory(redis.Connection, Options, new ManualClock(Clock.GetUtcNow().AddMilliseconds(999)))
            .GetTenant(_tenants[grain]);
        Clock.Advance(TimeSpan.FromMilliseconds(1001));
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("a", 1, 0))).IsAdmitted);
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("b", 1, 0))).IsAdmitted);

        var refused = await late.AdmitAsync(new AdmissionRequest("c", 1, 0));

        Assert.Equal(AdmissionOutcome.RequestsPerMinuteExceeded, refused.Outcome);
        Assert.Equal(2, (await grain.GetQuotaAsync()).RequestsInWindow);
    }

    [Fact]
    public async Task An_unreachable_redis_is_a_store_unavailable_error_not_a_hang()
    {
        var factory = new RedisTenantGrainFactory(await RedisConnection.ConnectAsync("127.0.0.1:1"), Options, Clock);
        await Assert.ThrowsAsync<StoreUnavailableException>(async () => await factory.GetTenant("x").AdmitAsync(new AdmissionRequest("a", 1, 0)));
    }

    private RedisTenantGrainFactory Factory() => new(redis.Connection, Options, Clock);

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
