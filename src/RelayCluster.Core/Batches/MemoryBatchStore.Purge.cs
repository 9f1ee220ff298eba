using RelayCluster.Core.Auth;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Core.Batches;

/// <summary>
/// A deleted tenant's batches go with it. Tasks still queued for them find no batch and end (a worker treats a
/// missing batch as done); an item running at the purge records nothing and settles on no grain of the new tenant.
/// </summary>
public sealed partial class MemoryBatchStore : ITenantDataPurge
{
    public Task PurgeAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        lock (_turn)
        {
            foreach (var key in _batches.Keys.Where(k => k.Tenant == tenantId).ToList())
            {
                _batches.Remove(key);
            }
        }

        return Task.CompletedTask;
    }

    private bool IsGone(string tenantId, string batchId)
    {
        lock (_turn)
        {
            return !_batches.ContainsKey((tenantId, batchId));
        }
    }

    /// <summary>
    /// An item's end for a batch that is gone (purged with its tenant): nothing is recorded or booked, the item's
    /// reservation is freed, and 'cancelling' stops the chunk, so a tenant created later with the id never pays for it.
    /// </summary>
    private async ValueTask<ItemRecorded> EndItemOfPurgedAsync(string tenantId, Settlement? settlement)
    {
        if (settlement is { } held)
        {
            await tenants.GetTenant(tenantId).ReleaseAsync(held.RequestId);
        }

        return new ItemRecorded(false, BatchStatus.Cancelling, 0, 0, 0);
    }
}
