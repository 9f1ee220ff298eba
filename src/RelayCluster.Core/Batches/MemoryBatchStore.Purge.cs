using RelayCluster.Core.Auth;

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
}
