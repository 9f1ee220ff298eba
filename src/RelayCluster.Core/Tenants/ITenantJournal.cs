namespace RelayCluster.Core.Tenants;

/// <summary>What a tenant grain's activation loaded: its fencing epoch and the state it starts from.</summary>
public readonly record struct TenantJournalLoad(long Epoch, TenantImage Image);

/// <summary>
/// Where a tenant grain's state is durable. An activation loads once, which fences every older activation of the same
/// tenant (the epoch goes up); then each commit writes one batch of changes atomically, and only while the activation's
/// epoch is still the current one. A stale or duplicate activation can therefore refuse but never acknowledge, lose or
/// double-count: its commit fails, and the grain that made it fails every caller waiting on it.
/// </summary>
public interface ITenantJournal
{
    /// <summary>Raises the tenant's epoch (fencing older activations), then reads its state.</summary>
    /// <exception cref="StoreUnavailableException">The store could not be reached.</exception>
    Task<TenantJournalLoad> LoadAsync(string tenantId);

    /// <summary>
    /// Writes <paramref name="changes"/> (state, windows, reservations, ledger records with their usage totals) in one
    /// atomic step if <paramref name="epoch"/> is still the tenant's; nothing of it otherwise.
    /// </summary>
    /// <exception cref="StoreUnavailableException">Fenced by a newer activation, or the store could not be reached
    /// (then the commit may or may not have happened).</exception>
    Task CommitAsync(string tenantId, long epoch, TenantChanges changes);

    /// <summary>What the usage log holds as spend of one incarnation of the tenant id in a month (nano-dollars; 0 where
    /// the store forgets a deleted tenant's spend instead, as Redis does).</summary>
    Task<long> IncarnationSpendAsync(string tenantId, string incarnation, string month);

    /// <summary>
    /// Forgets a deleted tenant's state (keeping what audit needs: its ledger and usage totals, set aside), fencing every
    /// activation, and returns the epoch the calling activation continues with.
    /// </summary>
    Task<long> ForgetAsync(string tenantId);
}
