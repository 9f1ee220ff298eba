using RelayCluster.Core.Auth;
using RelayCluster.Core.Batches;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Silo.Batches;

/// <summary>
/// <see cref="IBatches"/> over the batch grains: a batch is its <see cref="IBatchActor"/> (key: batch id), listed from its
/// tenant's <see cref="ITenantBatchesActor"/>. A grain that cannot be reached (its silo died mid-call, a timeout, a
/// storage outage) answers as <see cref="StoreUnavailableException"/> (503 <c>store_unavailable</c>), never a bare 500.
/// Forgetting a deleted tenant stops and forgets each of its batches.
/// </summary>
internal sealed class OrleansBatches(IGrainFactory grains) : IBatches, ITenantDataPurge
{
    public async Task CreateAsync(BatchCreation creation)
    {
        // Listed first: an id whose batch was never stored is skipped by the listing; a batch never listed would be lost to it.
        await Guard(grains.GetGrain<ITenantBatchesActor>(creation.TenantId).AddAsync(creation.Id));
        await Guard(Batch(creation.Id).CreateAsync(creation));
    }

    public Task<BatchState?> GetAsync(string tenantId, string batchId) => Guard(Batch(batchId).GetAsync(tenantId));

    public async Task<BatchPage> ListAsync(string tenantId, string? after, int limit)
    {
        var (ids, hasMore) = await Guard(grains.GetGrain<ITenantBatchesActor>(tenantId).PageAsync(after, limit));
        var batches = await Task.WhenAll(ids.Select(id => GetAsync(tenantId, id)));
        return new BatchPage([.. batches.OfType<BatchState>()], hasMore);
    }

    public Task<BatchState?> CancelAsync(string tenantId, string batchId, long now) => Guard(Batch(batchId).CancelAsync(tenantId, now));

    /// <summary>The address of the silo holding the batch's grain (activating it if none does).</summary>
    public Task<string> HostOfAsync(string batchId) => Guard(Batch(batchId).HostAsync());

    public async Task PurgeAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        // An id leaves the index only once its batch is purged: a purge that fails part-way is found again by the next one.
        var index = grains.GetGrain<ITenantBatchesActor>(tenantId);
        var ids = await Guard(index.AllAsync());
        await Task.WhenAll(ids.Select(id => Guard(Batch(id).PurgeAsync(tenantId))));
        await Guard(index.RemoveAsync(ids));
    }

    private IBatchActor Batch(string batchId) => grains.GetGrain<IBatchActor>(batchId);

    private static async Task Guard(Task call)
    {
        try
        {
            await call;
        }
        catch (Exception ex) when (ex is not StoreUnavailableException and not OperationCanceledException)
        {
            throw new StoreUnavailableException("The batch's grain could not be reached: " + ex.Message, ex);
        }
    }

    private static async Task<T> Guard<T>(Task<T> call)
    {
        try
        {
            return await call;
        }
        catch (Exception ex) when (ex is not StoreUnavailableException and not OperationCanceledException)
        {
            throw new StoreUnavailableException("The batch's grain could not be reached: " + ex.Message, ex);
        }
    }
}
