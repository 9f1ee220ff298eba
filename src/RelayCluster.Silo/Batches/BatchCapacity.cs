using System.Collections.Concurrent;
using RelayCluster.Core.Configuration;

namespace RelayCluster.Silo.Batches;

/// <summary>
/// This silo's batch item slots (<c>MaxConcurrentItems</c>), shared by every chunk grain it holds. One tenant may hold
/// at most its share of them (<c>MaxConcurrentChunksPerTenant / MaxConcurrentChunks</c>, by default three quarters), so
/// another tenant's batch always finds slots free however much one tenant has queued. A tenant waits for its own share
/// first, so it never holds a silo slot while it waits.
/// </summary>
internal sealed class BatchCapacity(RelayOptions options)
{
    private readonly SemaphoreSlim _silo = new(options.Batches.MaxConcurrentItems, options.Batches.MaxConcurrentItems);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _tenants = new(StringComparer.Ordinal);
    private readonly int _share = Math.Max(1, (int)((long)options.Batches.MaxConcurrentItems
        * Math.Clamp(options.Batches.MaxConcurrentChunksPerTenant, 1, Math.Max(1, options.Batches.MaxConcurrentChunks))
        / Math.Max(1, options.Batches.MaxConcurrentChunks)));

    /// <summary>Waits for a slot of the tenant's share and of the silo; dispose the answer to give both back.</summary>
    public async Task<IDisposable> AcquireAsync(string tenantId, CancellationToken cancellationToken)
    {
        var tenant = _tenants.GetOrAdd(tenantId, _ => new SemaphoreSlim(_share, _share));
        await tenant.WaitAsync(cancellationToken);
        try
        {
            await _silo.WaitAsync(cancellationToken);
        }
        catch
        {
            tenant.Release();
            throw;
        }

        return new Slot(this, tenant);
    }

    private sealed class Slot(BatchCapacity capacity, SemaphoreSlim tenant) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                capacity._silo.Release();
                tenant.Release();
            }
        }
    }
}
