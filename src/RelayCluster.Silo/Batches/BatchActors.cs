using Orleans.Concurrency;
using RelayCluster.Core.Batches;

namespace RelayCluster.Silo.Batches;

/// <summary>
/// One batch (key: the batch id): its status machine, request counts, files and expiry, and the dispatch of its chunks
/// over the silos. It is the single source of the batch's progress: what it answers and publishes has been committed,
/// so counts never go backwards, even after the silo holding it dies and it is revived elsewhere (by the next call, or
/// by its <c>watchdog</c> reminder).
/// </summary>
[Alias("relay.batch")]
public interface IBatchActor : IGrainWithStringKey
{
    /// <summary>Stores the new batch (validating) and starts its validation. A second create of the same id is a no-op.</summary>
    [Alias("create")]
    Task CreateAsync(BatchCreation creation);

    /// <summary>The committed batch, or null if it does not exist or belongs to another tenant.</summary>
    [Alias("get"), AlwaysInterleave]
    Task<BatchState?> GetAsync(string tenantId);

    /// <summary>See <see cref="IBatches.CancelAsync"/>: returns once every running chunk has stopped starting items.</summary>
    [Alias("cancel")]
    Task<BatchState?> CancelAsync(string tenantId, long now);

    /// <summary>A running chunk's committed totals so far (absolute, so a repeated or reordered report is harmless).</summary>
    [Alias("report")]
    Task ReportAsync(int chunk, ChunkTotals totals);

    /// <summary>Every item of the chunk has ended, its usage is booked and its result files are written.</summary>
    [Alias("chunk-done")]
    Task ChunkDoneAsync(int chunk, ChunkTotals totals);

    /// <summary>
    /// A chunk's run was handed back unfinished because its silo is shutting down gracefully: that run is not counted as an
    /// attempt (a rolling restart must not use up a long chunk's attempts).
    /// </summary>
    [Alias("chunk-handed-back")]
    Task ChunkHandedBackAsync(int chunk);

    /// <summary>A background job (validation, finalization) of an activation has ended; applied if it is still wanted.</summary>
    [Alias("job-done")]
    Task JobDoneAsync(BatchJobResult result);

    /// <summary>Forgets the batch (its tenant was deleted): running chunks stop, and nothing more is booked or written.</summary>
    [Alias("purge")]
    Task PurgeAsync(string tenantId);

    /// <summary>Where the grain runs (<c>SiloAddress.ToParsableString()</c>): the admin API and the failover tests.</summary>
    [Alias("host"), AlwaysInterleave]
    Task<string> HostAsync();
}

/// <summary>
/// One chunk of a batch (key: <c>{batchId}/{chunk}</c>): runs its items on the silo holding it, decides each item's end
/// once, durably, before booking it on the tenant grain, and resumes from what it committed when it is revived on
/// another silo. Reentrant: its items' calls interleave, and a stop is answered while items run.
/// </summary>
[Alias("relay.batch-chunk")]
public interface IBatchChunkActor : IGrainWithStringKey
{
    /// <summary>
    /// Runs the chunk if this activation is not running it yet; otherwise only takes a stop it carries. Idempotent: the
    /// batch calls it to dispatch the chunk and again as a heartbeat, which revives a chunk whose silo died.
    /// </summary>
    [Alias("start")]
    Task<ChunkStatus> StartAsync(ChunkWork work);

    /// <summary>No item of the chunk starts after this returns; unrun items end with <paramref name="reason"/>.</summary>
    /// <param name="reason"><c>batch_cancelled</c> or <c>batch_failed</c>; null forgets the chunk (purge) without recording anything.</param>
    [Alias("stop")]
    Task StopAsync(string? reason);
}

/// <summary>Everything a chunk needs to run, from its batch.</summary>
/// <param name="StopReason">Null to run; otherwise no item runs and every unrun item ends with this code.</param>
/// <param name="Attempts">Runs of the chunk started so far; a new run starts only while this is below <paramref name="MaxAttempts"/>.</param>
[GenerateSerializer, Immutable, Alias("relay.chunk-work")]
public sealed record ChunkWork(
    [property: Id(0)] string TenantId,
    [property: Id(1)] string BatchId,
    [property: Id(2)] string Endpoint,
    [property: Id(3)] string InputFileId,
    [property: Id(4)] long ExpiresAt,
    [property: Id(5)] BatchChunk Range,
    [property: Id(6)] string? StopReason,
    [property: Id(7)] int Attempts = 0,
    [property: Id(8)] int MaxAttempts = int.MaxValue);

/// <summary>A chunk's item ends: counts, items that ended because the window closed, and the tokens of the items' final calls.</summary>
[GenerateSerializer, Immutable, Alias("relay.chunk-totals")]
public readonly record struct ChunkTotals(
    [property: Id(0)] long Completed,
    [property: Id(1)] long Failed,
    [property: Id(2)] long Expired,
    [property: Id(3)] long InputTokens,
    [property: Id(4)] long OutputTokens,
    [property: Id(5)] long CachedTokens = 0,
    [property: Id(6)] long ReasoningTokens = 0)
{
    public long Ended => Completed + Failed;

    public static ChunkTotals operator +(ChunkTotals a, ChunkTotals b) =>
        new(a.Completed + b.Completed, a.Failed + b.Failed, a.Expired + b.Expired, a.InputTokens + b.InputTokens, a.OutputTokens + b.OutputTokens,
            a.CachedTokens + b.CachedTokens, a.ReasoningTokens + b.ReasoningTokens);

    /// <summary>Component-wise the larger: reports of one chunk only grow, whichever arrives last.</summary>
    public static ChunkTotals Max(ChunkTotals a, ChunkTotals b) =>
        new(Math.Max(a.Completed, b.Completed), Math.Max(a.Failed, b.Failed), Math.Max(a.Expired, b.Expired),
            Math.Max(a.InputTokens, b.InputTokens), Math.Max(a.OutputTokens, b.OutputTokens),
            Math.Max(a.CachedTokens, b.CachedTokens), Math.Max(a.ReasoningTokens, b.ReasoningTokens));
}

/// <summary>What a chunk answers to <see cref="IBatchChunkActor.StartAsync"/>.</summary>
/// <param name="Started">This call started a run (a dispatch, or a revival on another silo): counts as an attempt.</param>
/// <param name="Done">Every item has ended and is booked (the batch may have missed the chunk's done report).</param>
/// <param name="Exhausted">A run was due but the chunk had used all its attempts: nothing started.</param>
/// <param name="NoPlan">The batch found no boundaries for the chunk (its plan file is gone): it was not called.</param>
[GenerateSerializer, Immutable, Alias("relay.chunk-status")]
public readonly record struct ChunkStatus(
    [property: Id(0)] bool Started, [property: Id(1)] bool Done, [property: Id(2)] ChunkTotals Totals, [property: Id(3)] bool Exhausted = false,
    [property: Id(4)] bool NoPlan = false);

/// <summary>How a batch's background job ended. <see cref="Job"/> names the activation's job, so a stale result is ignored.</summary>
[GenerateSerializer, Immutable, Alias("relay.batch-job-result")]
public sealed record BatchJobResult(
    [property: Id(0)] string Job,
    [property: Id(1)] BatchJobKind Kind,
    [property: Id(2)] string? ErrorsJson = null,
    [property: Id(3)] int Total = 0,
    [property: Id(4)] int Chunks = 0,
    [property: Id(5)] string? Model = null,
    [property: Id(6)] string? OutputFileId = null,
    [property: Id(7)] string? ErrorFileId = null,
    [property: Id(8)] string? Failure = null);

public enum BatchJobKind
{
    Validate,
    Finalize,
}

/// <summary>
/// A tenant's batch ids in creation order (key: tenant id), for listing newest first with a cursor, and for forgetting
/// a deleted tenant's batches.
/// </summary>
[Alias("relay.tenant-batches")]
public interface ITenantBatchesActor : IGrainWithStringKey
{
    [Alias("add")]
    Task AddAsync(string batchId);

    /// <summary>Up to <paramref name="limit"/> ids older than <paramref name="after"/> (newest first), and whether more follow.</summary>
    [Alias("page"), AlwaysInterleave]
    Task<(string[] Ids, bool HasMore)> PageAsync(string? after, int limit);

    /// <summary>Every id, oldest first.</summary>
    [Alias("all"), AlwaysInterleave]
    Task<string[]> AllAsync();

    /// <summary>Forgets these ids (their batches were purged); ids added since stay.</summary>
    [Alias("remove")]
    Task RemoveAsync(string[] batchIds);
}
