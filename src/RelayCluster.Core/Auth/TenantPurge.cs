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
/// A part that fails does not stop the others; the failures are thrown together at the end (the purge is idempotent,
/// and a re-create of the id runs it again).
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
            if (failures.Count == 1)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failures[0]);
            }

            throw new AggregateException($"Purging tenant '{tenantId}' failed in {failures.Count} stores.", failures);
        }
    }
}
