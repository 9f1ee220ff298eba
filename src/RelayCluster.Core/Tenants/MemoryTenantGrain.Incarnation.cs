namespace RelayCluster.Core.Tenants;

internal sealed partial class MemoryTenantGrain
{
    /// <summary>The incarnation of the tenant id this grain's state belongs to ("" for tenants older than incarnations).</summary>
    public string Incarnation { get; init; } = "";
}
