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
}
