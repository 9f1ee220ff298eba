namespace RelayCluster.Core.Tenants;

/// <summary>
/// A grain factory whose grains hold state for one incarnation of a tenant id (the memory store: spend restored from
/// the usage log, records stamped with the incarnation). The Redis store keeps no such state in a silo and needs none.
/// </summary>
public interface ITenantIncarnations
{
    /// <summary>
    /// Makes the id's grain that of <paramref name="incarnation"/>: a fresh grain whose month's spend is what the usage log
    /// holds for that incarnation (0 for a new one). Nothing changes if the grain is that incarnation's already.
    /// </summary>
    ValueTask BeginIncarnationAsync(string tenantId, string incarnation);
}
