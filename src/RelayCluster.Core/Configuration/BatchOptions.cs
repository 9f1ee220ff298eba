namespace RelayCluster.Core.Configuration;

/// <summary><c>Relay:Batches</c>: the Batch API's workers, prices and limits.</summary>
public sealed class BatchOptions
{
    /// <summary>Working directory for a running batch's plan, part and result files; a shared volume in a cluster, like the file store.</summary>
    public string WorkPath { get; set; } = "data/batches";

    /// <summary>Input lines per chunk: the unit of work of one chunk grain, and what its revival on another silo may redo at most.</summary>
    public int ChunkSize { get; set; } = 100;

    /// <summary>Items a silo runs at once across all the chunk grains it holds.</summary>
    public int MaxConcurrentItems { get; set; } = 64;

    /// <summary>Chunks of one batch dispatched at once, per active silo (Orleans places them over the silos).</summary>
    public int MaxConcurrentChunks { get; set; } = 4;

    /// <summary>
    /// Most of a silo's item slots one tenant may hold; 0 (the default) means all but one, so a tenant alone runs at
    /// nearly full width and another tenant's batch always finds a slot, even if every call of the first one hangs.
    /// While tenants wait, a freed slot goes to the one holding the fewest.
    /// </summary>
    public int MaxItemsPerTenant { get; set; }

    /// <summary><see cref="MaxItemsPerTenant"/> with its default applied: between 1 and <see cref="MaxConcurrentItems"/>.</summary>
    public int ItemsPerTenant => Math.Clamp(MaxItemsPerTenant > 0 ? MaxItemsPerTenant : MaxConcurrentItems - 1, 1, Math.Max(1, MaxConcurrentItems));

    /// <summary>
    /// Attempts of a batch's task before the batch fails: a chunk's runs (every revival of its grain counts, whether it
    /// faulted or its silo died), and failed validation or finalization jobs. Kept in the batch grain's state, so the count
    /// survives the loss of any silo.
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

    /// <summary>
    /// The batch grain calls each running chunk every <c>LeaseSeconds / 3</c> (at most 5 s): the call revives a chunk whose
    /// silo died on a live one. Also the cap of a failed job's retry backoff.
    /// </summary>
    public double LeaseSeconds { get; set; } = 30;

    /// <summary>The completion window (<c>24h</c> is the only one OpenAI offers); shorter only for tests.</summary>
    public long CompletionWindowSeconds { get; set; } = 86_400;

    /// <summary>
    /// Most requests an input file may hold. OpenAI allows 50,000; the relay 200,000 by default, since neither validation
    /// nor the run holds a batch's lines or results in memory.
    /// </summary>
    public int MaxRequests { get; set; } = 200_000;

    /// <summary>How often progress is published to <c>batch:{id}</c> subscribers, at most.</summary>
    public int ProgressIntervalMs { get; set; } = 500;
}
