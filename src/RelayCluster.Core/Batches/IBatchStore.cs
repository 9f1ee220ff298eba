using RelayCluster.Core.Tenants;

namespace RelayCluster.Core.Batches;

/// <summary>
/// The batch grains (one per batch, keyed by tenant and batch id) and the queue of work their batches need.
/// Each method is one atomic turn. A batch's work is a sequence of tasks (validate it, run each chunk,
/// finalize it) leased to workers on any silo; a lease a worker stops renewing (it died) is taken over by
/// another, and recording an item's end is idempotent, so a takeover never counts, bills or writes an item twice.
/// </summary>
public interface IBatchStore
{
    /// <summary>Creates the batch in <c>validating</c> and queues its validation.</summary>
    ValueTask CreateAsync(BatchCreation creation);

    ValueTask<BatchState?> GetAsync(string tenantId, string batchId);

    /// <summary>Newest first; <paramref name="after"/> is the id of the last batch of the previous page.</summary>
    ValueTask<BatchPage> ListAsync(string tenantId, string? after, int limit);

    /// <summary>
    /// Moves a validating, running or finalizing batch to <c>cancelling</c>, and a cancelling batch that has no task left
    /// (none queued, none leased) straight to <c>cancelled</c>, so a cancel always ends. Returns the batch after the
    /// turn, or null if unknown.
    /// </summary>
    ValueTask<BatchState?> CancelAsync(string tenantId, string batchId, long now);

    /// <summary>
    /// validating → failed with these errors (JSON array); a batch cancelled while it was validated ends cancelled,
    /// keeping the errors. False if the batch had started or ended.
    /// </summary>
    ValueTask<bool> FailValidationAsync(string tenantId, string batchId, string errorsJson, long now);

    /// <summary>validating → in_progress with its chunks queued, in one turn. False if it was no longer validating.</summary>
    ValueTask<bool> StartAsync(string tenantId, string batchId, string? model, IReadOnlyList<BatchChunk> chunks, long total, long now);

    ValueTask<BatchChunk?> GetChunkAsync(string tenantId, string batchId, int chunk);

    /// <summary>Which items of a range have ended, and the owner (part file) of each: the skip list for a taken-over chunk and the filter for assembly.</summary>
    ValueTask<IReadOnlyDictionary<int, (ItemOutcome Outcome, string Owner)>> EndedItemsAsync(string tenantId, string batchId, int firstItem, int count);

    /// <summary>
    /// Records an item's end, once. With a settlement (the item's final, admitted call) the tenant's usage is
    /// booked in the same turn when the end is first, and the reservation only released when it is not. The
    /// last item's end moves the batch to finalizing and queues its finalization.
    /// </summary>
    ValueTask<ItemRecorded> EndItemAsync(string tenantId, string batchId, ItemEnd end, Settlement? settlement, long now);

    /// <summary>finalizing → its final status (completed, or cancelled/expired if it was cut short), with its files.</summary>
    ValueTask<bool> FinishAsync(string tenantId, string batchId, string? outputFileId, string? errorFileId, long now);

    /// <summary>
    /// Leases the next task to <paramref name="worker"/>: a new one, one whose lease expired, or one whose retry is due,
    /// visiting tenants round-robin and skipping <paramref name="busyTenants"/> (those holding their share of this
    /// worker's slots). The lease's <see cref="BatchLease.Attempt"/> counts every lease of the task so far, this one included.
    /// </summary>
    ValueTask<BatchLease?> LeaseAsync(string worker, TimeSpan leaseTime, IReadOnlyCollection<string>? busyTenants = null);

    /// <summary>Keeps a lease; false if it was lost (taken over).</summary>
    ValueTask<bool> RenewAsync(BatchLease lease);

    /// <summary>The task is done: it is never handed out again.</summary>
    ValueTask CompleteTaskAsync(BatchLease lease);

    /// <summary>
    /// Gives the task back at once (this worker is stopping), so another can take it without waiting for expiry. The
    /// attempt is handed back too: a graceful stop is not the task's failure.
    /// </summary>
    ValueTask ReleaseAsync(BatchLease lease);

    /// <summary>
    /// The attempt failed: the task is handed out again no sooner than <paramref name="delay"/> from now (at most its
    /// lease time), and the attempt stays counted. The worker holds nothing while the task waits.
    /// </summary>
    ValueTask RetryLaterAsync(BatchLease lease, TimeSpan delay);

    /// <summary>
    /// Gives up on a task that keeps failing: it is removed, and its batch ends in the same turn, <c>cancelled</c> if it
    /// was being cancelled, else <c>failed</c> with <paramref name="errorsJson"/> (a JSON array of BatchError objects).
    /// A batch that already ended keeps its status. Returns the batch after the turn, or null if unknown.
    /// </summary>
    ValueTask<BatchState?> AbandonAsync(BatchLease lease, string errorsJson, long now);
}

public enum BatchTaskKind
{
    Validate,
    RunChunk,
    Finalize,
}

/// <summary>
/// A leased task. <see cref="LeaseId"/> is unique per lease, so a taken-over chunk writes a part file of its own.
/// <see cref="Attempt"/> is how many times the task has been leased, this lease included (from 1); <see cref="LeaseTime"/>
/// is how long the lease lasts unrenewed.
/// </summary>
public sealed record BatchLease(
    string TenantId, string BatchId, BatchTaskKind Kind, int Chunk, string LeaseId, string EntryId, int Attempt, TimeSpan LeaseTime);
