namespace RelayCluster.Core.Auth;

/// <summary>One store's part of forgetting a deleted tenant: everything it keeps under the tenant's id.</summary>
public interface ITenantDataPurge
{
    /// <summary>
    /// Removes (or, for usage totals, sets aside) everything this store keeps for <paramref name="tenantId"/>, so a tenant
    /// created later with the same id finds none of it. Idempotent: it runs at the delete and again at a re-create,
    /// which also sweeps up what a crash mid-purge or work still running at the delete left behind.
    /// </summary>
    Task PurgeAsync(string tenantId, CancellationToken cancellationToken = default);
}

/// <summary>
/// Every store's purge, run one after the other: batches first (so no worker finds more of its work), grain last.
/// A part that fails does not stop the others; the failures are thrown together at the end as
/// <see cref="Tenants.StoreUnavailableException"/> (the purge is idempotent, and a re-create of the id runs it again).
/// </summary>
public sealed class TenantPurge(IEnumerable<ITenantDataPurge> parts)
{
    private readonly ITenantDataPurge[] _parts = [.. parts];

    public async Task PurgeAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        List<Exception>? failures = null;
        foreach (var part in _parts)
        {
            try
            {
                await part.PurgeAsync(tenantId, cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                (failures ??= []).Add(ex);
            }
        }

        if (failures is not null)
        {
            // A store that could not be reached (a silo that just died, Redis away): the caller answers 503 with Retry-After,
            // and the purge, being idempotent, runs again then.
            throw new Tenants.StoreUnavailableException(
                $"Purging tenant '{tenantId}' did not finish ({string.Join("; ", failures.Select(f => f.Message))}); try again.",
                failures.Count == 1 ? failures[0] : new AggregateException(failures));
        }
    }
}
