using Orleans.Concurrency;
using Orleans.Placement;
using Orleans.Runtime.Placement;
using RelayCluster.Upstreams.Resilience;

namespace RelayCluster.Silo.Routing;

/// <summary>
/// A silo's route stats, asked on read (key: the silo's address, <c>SiloAddress.ToParsableString()</c>; placed on that
/// silo by <see cref="SiloKeyedPlacement"/>). Pulling on read costs the request path nothing and an idle cluster no
/// messages; a read costs one grain call per silo.
/// </summary>
[Alias("relay.route-stats")]
public interface IRouteStatsActor : IGrainWithStringKey
{
    [Alias("read"), AlwaysInterleave]
    Task<SiloRouteStats> ReadAsync();
}

[SiloKeyedPlacement]
internal sealed class RouteStatsGrain(RouteTargetStats stats, IProviderHealthSource health) : Grain, IRouteStatsActor
{
    public Task<SiloRouteStats> ReadAsync() =>
        Task.FromResult(new SiloRouteStats(stats.Snapshot(), health.GetHealth().ToDictionary(h => h.ProviderId, h => h.Circuit, StringComparer.Ordinal)));
}

/// <summary>Places a grain on the silo its key names (<c>SiloAddress.ToParsableString()</c>); a silo no longer alive fails the call.</summary>
[GenerateSerializer, Immutable, Alias("relay.silo-keyed")]
public sealed class SiloKeyedPlacement : PlacementStrategy
{
}

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class SiloKeyedPlacementAttribute() : PlacementAttribute(new SiloKeyedPlacement())
{
}

internal sealed class SiloKeyedPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var key = target.GrainIdentity.Key.ToString();
        return context.GetCompatibleSilos(target).FirstOrDefault(s => s.ToParsableString() == key) is { } silo
            ? Task.FromResult(silo)
            : throw new OrleansException($"Silo {key} is not an active silo of this cluster.");
    }
}

public static class RouteStatsHosting
{
    /// <summary>Registers the per-silo placement of the route stats grains (every silo of a cluster must have it).</summary>
    public static ISiloBuilder AddRouteStats(this ISiloBuilder silo)
    {
        silo.Services.AddPlacementDirector<SiloKeyedPlacement, SiloKeyedPlacementDirector>();
        silo.Services.AddSingleton<RouteTargetStats>();
        return silo;
    }
}
