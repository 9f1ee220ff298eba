using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;
using RelayCluster.Redis;
using RelayCluster.Silo.Tenants;

namespace RelayCluster.Tests.Tenants;

/// <summary>
/// A silo dies under a tenant's grain (a cluster of its own: this test kills a silo): the grain comes back on the other
/// silo with everything that was acknowledged, and the dead silo's reservations are reclaimed from membership.
/// </summary>
public sealed class TenantGrainFailoverTests : IAsyncLifetime
{
    private readonly RedisTenantGrainCluster _cluster = new();

    public Task InitializeAsync() => _cluster.InitializeAsync();

    public Task DisposeAsync() => _cluster.DisposeAsync();

    [Fact]
    public async Task A_killed_silos_grain_returns_elsewhere_with_every_acknowledged_turn_and_its_reservations_reclaimed()
    {
        _cluster.Clock.Set(TenantGrainContract.Start);
        var survivor = _cluster.Factory(0);
        var doomed = _cluster.Factory(1);
        var doomedAddress = _cluster.Cluster.Silos[1].SiloAddress.ToParsableString();

        // A tenant whose grain runs on the silo about to die (placement is random: pick an id that lands there). Tried for up
        // to 30 s, not a fixed number of ids: on a loaded machine a silo just started may not yet be offered for placement.
        string id;
        var n = 0;
        var trying = System.Diagnostics.Stopwatch.StartNew();
        do
        {
            id = $"failover-{n++}-" + Guid.NewGuid().ToString("N");
        }
        while (await doomed.HostOfAsync(id) != doomedAddress && trying.Elapsed < TimeSpan.FromSeconds(30));
        Assert.Equal(doomedAddress, await doomed.HostOfAsync(id));

        var tenant = survivor.GetTenant(id);
        await tenant.SetLimitsAsync(new TenantLimits(null, null, 3, 10_000));
        Assert.True((await tenant.AdmitAsync(new AdmissionRequest("done", 1, 500))).IsAdmitted);
        Assert.True(await tenant.SettleAsync(Settle(id, "done", 400)));
        Assert.True((await doomed.GetTenant(id).AdmitAsync(new AdmissionRequest("held-by-doomed", 1, 700))).IsAdmitted);
        Assert.True((await tenant.AdmitAsync(new AdmissionRequest("held-by-survivor", 1, 900))).IsAdmitted);

        var killed = Stopwatch.StartNew();
        await _cluster.Cluster.KillSiloAsync(_cluster.Cluster.Silos[1]);

        // Served again from the survivor, from what was committed; the doomed silo's request is reclaimed once
        // membership declares it dead, the survivor's own stays held.
        var quota = await WaitForAsync(async () => await tenant.GetQuotaAsync(), q => q.InFlight == 1);
        Assert.True(killed.Elapsed < TimeSpan.FromSeconds(20), $"served again {killed.Elapsed} after the kill");
        Assert.Equal((400L, 900L), (quota.SpentNanos, quota.ReservedNanos));
        Assert.NotEqual(doomedAddress, await survivor.HostOfAsync(id));

        // A late settle of the reclaimed request is booked, once; the ledger and the spend agree.
        Assert.True(await tenant.SettleAsync(Settle(id, "held-by-doomed", 650)));
        Assert.False(await tenant.SettleAsync(Settle(id, "held-by-doomed", 650)));
        var usage = await new RedisUsageLedger(_cluster.Redis.Connection).GetSummaryAsync(id, "2026-11");
        Assert.Equal((2L, 1050L), (usage.Requests, usage.CostNanos));
        Assert.Equal(1050, (await tenant.GetQuotaAsync()).SpentNanos);
    }

    [Fact]
    public async Task A_fenced_activation_acknowledges_nothing_and_writes_nothing()
    {
        var journal = new RedisTenantJournal(_cluster.Redis.Connection);
        var id = "fence-" + Guid.NewGuid().ToString("N");
        var (oldEpoch, oldImage) = await journal.LoadAsync(id);
        var old = new TenantBook(id, oldImage, _cluster.Options, TenantGrainContract.Start.ToUnixTimeMilliseconds());
        var (newEpoch, newImage) = await journal.LoadAsync(id); // a second activation somewhere fences the first
        var current = new TenantBook(id, newImage, _cluster.Options, TenantGrainContract.Start.ToUnixTimeMilliseconds());

        var now = TenantGrainContract.Start.ToUnixTimeMilliseconds();
        old.Admit(new AdmissionRequest("stale", 1, 100), "", now);
        old.Settle(Settle(id, "stale", 100), now);
        await Assert.ThrowsAsync<StoreUnavailableException>(() => journal.CommitAsync(id, oldEpoch, old.TakeChanges()));

        current.Admit(new AdmissionRequest("live", 1, 100), "", now);
        current.Settle(Settle(id, "live", 60), now);
        await journal.CommitAsync(id, newEpoch, current.TakeChanges());

        var (_, stored) = await journal.LoadAsync(id);
        Assert.Equal(60, stored.State!.Value.SpentNanos);
        var usage = await new RedisUsageLedger(_cluster.Redis.Connection).GetSummaryAsync(id, "2026-11");
        Assert.Equal((1L, 60L), (usage.Requests, usage.CostNanos));
        Assert.Equal(1L, (long)await _cluster.Redis.Connection.ExecuteAsync("XLEN", "{t:" + id + "}:ledger"));
    }

    [Fact]
    public void Every_record_crossing_the_grain_boundary_keeps_its_fields_through_the_orleans_serializer()
    {
        var serializer = _cluster.Cluster.Silos[0].ServiceProvider.GetRequiredService<global::Orleans.Serialization.Serializer>();
        var window = new RateLimitState(60, 59, TimeSpan.FromSeconds(59), null, long.MaxValue, TimeSpan.Zero);
        var admission = new Admission(AdmissionOutcome.BudgetExceeded, window, TimeSpan.FromSeconds(3));
        var quota = new QuotaSnapshot("acme", new TenantLimits(60, null, 4, 5_000_000_000), 1, 2, 3, 4, 5, "2026-11", window, true);
        var patch = new TenantLimitsPatch(Change<int?>.To(null), Change<int?>.Keep, Change<int?>.To(7), Change<long?>.To(9));
        var settlement = Settle("acme", "r1", 42) with { Unreserved = true };

        Assert.Equal(admission, serializer.Deserialize<Admission>(serializer.SerializeToArray(admission)));
        Assert.Equal(quota, serializer.Deserialize<QuotaSnapshot>(serializer.SerializeToArray(quota)));
        Assert.Equal(patch, serializer.Deserialize<TenantLimitsPatch>(serializer.SerializeToArray(patch)));
        Assert.Equal(settlement, serializer.Deserialize<Settlement>(serializer.SerializeToArray(settlement)));
        var refusal = serializer.Deserialize<Exception>(serializer.SerializeToArray<Exception>(new StoreUnavailableException("fenced")));
        Assert.Equal("fenced", Assert.IsType<StoreUnavailableException>(refusal).Message);
    }

    private static Settlement Settle(string tenant, string requestId, long cost) => new(new UsageRecord
    {
        TimestampMs = TenantGrainContract.Start.ToUnixTimeMilliseconds(), Tenant = tenant, RequestId = requestId, Endpoint = "/v1/chat/completions",
        Model = "m", UpstreamModel = "m", Provider = "p", PromptTokens = 1, CostNanos = cost, Ending = Endings.Completed, Status = 200,
    });

    private static async Task<T> WaitForAsync<T>(Func<Task<T>> probe, Func<T, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                var value = await probe();
                if (done(value) || DateTime.UtcNow > deadline)
                {
                    return value;
                }
            }
            catch (StoreUnavailableException) when (DateTime.UtcNow < deadline)
            {
            }

            await Task.Delay(100);
        }
    }
}
