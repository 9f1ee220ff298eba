namespace RelayCluster.Core.Batches;

/// <summary>
/// The Batch API's batches as the HTTP handlers see them: each batch is a grain (keyed by its id) that runs itself
/// on the silos, and a tenant's batches are listed from a per-tenant index. Every call names the calling tenant;
/// another tenant's batch answers exactly as one that does not exist (null).
/// </summary>
public interface IBatches
{
    /// <summary>Creates the batch in <c>validating</c>; its validation starts at once on the batch's grain.</summary>
    /// <exception cref="Tenants.StoreUnavailableException">The batch could not be stored: nothing was created.</exception>
    Task CreateAsync(BatchCreation creation);

    /// <summary>The batch as last committed (counts never go backwards), or null if the tenant has no such batch.</summary>
    Task<BatchState?> GetAsync(string tenantId, string batchId);

    /// <summary>Newest first; <paramref name="after"/> is the id of the last batch of the previous page.</summary>
    Task<BatchPage> ListAsync(string tenantId, string? after, int limit);

    /// <summary>
    /// Moves a validating, running or finalizing batch to <c>cancelling</c> (a validating one straight to
    /// <c>cancelled</c>: nothing ran). When it returns, no item of the batch starts any more: items already running
    /// finish and are billed, every other item ends as <c>batch_cancelled</c>. Returns the batch after the turn (a final
    /// batch unchanged), or null if unknown.
    /// </summary>
    Task<BatchState?> CancelAsync(string tenantId, string batchId, long now);
}
