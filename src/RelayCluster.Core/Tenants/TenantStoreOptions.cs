namespace RelayCluster.Core.Tenants;

/// <summary>Settings of every tenant grain: how long a reservation lives without a renewal (ms) before it is reclaimed.</summary>
public sealed record TenantStoreOptions(long ReservationTtlMs)
{
    public static TenantStoreOptions Default { get; } = new(120_000);
}
