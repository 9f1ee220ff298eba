namespace RelayCluster.Core.Configuration;

/// <summary><c>Relay:Batches</c>: the Batch API's workers, prices and limits.</summary>
public sealed class BatchOptions
{
    /// <summary>Working directory for result parts while a batch runs; a shared volume in a cluster, like the file store.</summary>
    public string WorkPath { get; set; } = "data/batches";

    /// <summary>Input lines per chunk: the unit a worker leases, and what a takeover redoes at most.</summary>
    public int ChunkSize { get; set; } = 100;

    /// <summary>Items a silo runs at once across all the chunks it holds.</summary>
    public int MaxConcurrentItems { get; set; } = 64;

    /// <summary>Chunks a silo holds at once (so one silo does not lease work it cannot start).</summary>
    public int MaxConcurrentChunks { get; set; } = 4;

    /// <summary>
    /// Chunk slots of a silo one tenant may hold at once (capped at <see cref="MaxConcurrentChunks"/>); by default one slot
    /// fewer than there are, so another tenant's batch always finds a slot free whatever one tenant has queued.
    /// </summary>
    public int MaxConcurrentChunksPerTenant { get; set; } = 3;

    /// <summary>
    /// Times a task (validate, run a chunk, finalize) is handed to a worker before its batch fails: every lease counts,
    /// whether the task threw or its worker died holding it; a worker that stops gracefully hands its attempt back.
    /// Stored with the task, so the count survives restarts.
    /// </summary>
    public int MaxTaskAttempts { get; set; } = 5;

    /// <summary>Batch price as a share of the interactive price (OpenAI's batch discount is 50 %).</summary>
    public decimal PriceFactor { get; set; } = 0.5m;

    /// <summary>Share of a tenant's concurrency, RPM and TPM limits batch work may fill; the rest is kept for interactive calls.</summary>
    public double CapacityShare { get; set; } = 0.8;

    /// <summary>Attempts per item for retryable failures (429, 5xx, timeouts, connection errors).</summary>
    public int MaxAttempts { get; set; } = 4;

    public int RetryBaseMs { get; set; } = 500;

    public int RetryMaxMs { get; set; } = 30_000;

    /// <summary>How long a worker's lease on a task lasts without renewal; a dead silo's tasks are taken over after it.</summary>
    public double LeaseSeconds { get; set; } = 30;

    /// <summary>The completion window (<c>24h</c> is the only one OpenAI offers); shorter only for tests.</summary>
    public long CompletionWindowSeconds { get; set; } = 86_400;

    /// <summary>Most requests an input file may hold (OpenAI's limit).</summary>
    public int MaxRequests { get; set; } = 50_000;

    /// <summary>How often progress is published to <c>batch:{id}</c> subscribers, at most.</summary>
    public int ProgressIntervalMs { get; set; } = 500;

    /// <summary>Whether this silo runs batch workers (every silo does by default).</summary>
    public bool RunWorkers { get; set; } = true;
}
