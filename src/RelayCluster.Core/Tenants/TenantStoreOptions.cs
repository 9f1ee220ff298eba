namespace RelayCluster.Core.Tenants;

/// <summary>
/// Settings of every tenant grain: how long a reservation lives without a renewal (ms) before it is reclaimed, and the
/// budget thresholds of a tenant that sets none (fractions of its monthly budget in [0, 1]; 0 is off).
/// </summary>
public sealed record TenantStoreOptions(long ReservationTtlMs, double AlertThreshold = 0.80, double PauseThreshold = 0.95)
{
    public static TenantStoreOptions Default { get; } = new(120_000);
}
