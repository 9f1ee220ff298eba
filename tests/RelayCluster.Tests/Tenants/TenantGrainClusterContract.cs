using RelayCluster.Core.Tenants;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Tenants;

/// <summary>
/// The tenant contract on the Orleans grain in a two-silo test cluster: each test's tenants are created through the
/// silos in turn, so calls cross silos as they do between relays; every test starts at the same moment of the shared clock.
/// </summary>
public abstract class TenantGrainClusterContract<TCluster> : TenantGrainContract
    where TCluster : TenantGrainCluster
{
    protected TenantGrainClusterContract(TCluster cluster)
    {
        Cluster = cluster;
        cluster.Clock.Set(Start);
    }

    protected TCluster Cluster { get; }

    /// <summary>The tenant id of each grain a test made.</summary>
    protected Dictionary<ITenantGrain, string> Tenants { get; } = [];

    protected override ManualClock Clock => Cluster.Clock;

    protected override async Task<ITenantGrain> GrainAsync(TenantLimits limits)
    {
        var id = "t-" + Guid.NewGuid().ToString("N");
        var grain = Cluster.Factory(Tenants.Count % 2).GetTenant(id);
        await grain.SetLimitsAsync(limits);
        Tenants[grain] = id;
        return grain;
    }

    [Fact]
    public async Task Concurrent_settles_through_both_silos_cross_each_threshold_once_and_both_silos_see_it()
    {
        var grain = await GrainAsync(new TenantLimits(null, null, null, 1000));
        var id = Tenants[grain];
        var silos = new[] { Cluster.Factory(0).GetTenant(id), Cluster.Factory(1).GetTenant(id) };
        var settled = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            silos[i % 2].SettleAsync(new Settlement(Settle($"s{i}", 1, 30).Record, Unreserved: true)).AsTask()));
        Assert.All(settled, Assert.True);

        foreach (var silo in silos)
        {
            var alerts = await silo.GetAlertsAsync();
            Assert.Equal([(BudgetCrossing.Alert, 1), (BudgetCrossing.Pause, 1)], alerts.Crossings.Select(c => (c.Kind, c.Sequence)));
            Assert.True(alerts.PausedByThreshold);
            Assert.InRange(alerts.Crossings[0].SpentNanos, 800, 829); // crossed by the settle that reached 0.80, not a later one
            Assert.InRange(alerts.Crossings[1].SpentNanos, 950, 979);
            var refused = await silo.AdmitAsync(new AdmissionRequest("next", 1, 1));
            Assert.Equal(AdmissionOutcome.Paused, refused.Outcome);
            Assert.Equal(1000, refused.Pause!.BudgetNanos);
        }

        // No webhook configured on these silos: each crossing ends "no_webhook" (not an error), committed like any outcome.
        var final = await Eventually.WaitAsync(() => grain.GetAlertsAsync().AsTask(), a => a.Crossings.All(c => c.Delivery.Status == AlertDelivery.NoWebhook));
        Assert.All(final!.Crossings, c => Assert.Equal(AlertDelivery.NoWebhook, c.Delivery.Status));
    }
}
