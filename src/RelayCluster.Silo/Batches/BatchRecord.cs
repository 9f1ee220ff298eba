using RelayCluster.Core.Batches;

namespace RelayCluster.Silo.Batches;

/// <summary>
/// What a batch grain persists (grain storage <c>relay</c>, state <c>batch</c>): the batch, and how far the dispatch of its
/// chunks has come. Small on purpose: it is written on every status change and chunk end, and for progress at most every
/// <c>ProgressIntervalMs</c>. The chunks' boundaries live in the batch's plan file (<see cref="PartFiles"/>), not here.
/// </summary>
[GenerateSerializer, Alias("relay.batch-record")]
public sealed class BatchRecord
{
    /// <summary>The batch with its counts (those of ended chunks plus the running chunks' last reports); null until created.</summary>
    [Id(0)] public BatchState? Batch { get; set; }

    /// <summary>Chunks below this index have been dispatched.</summary>
    [Id(1)] public int NextChunk { get; set; }

    /// <summary>Dispatched chunks not yet done, by index.</summary>
    [Id(2)] public Dictionary<int, RunningChunk> Running { get; set; } = [];

    /// <summary>The totals of the chunks that are done.</summary>
    [Id(3)] public ChunkTotals Done { get; set; }

    [Id(4)] public int DoneChunks { get; set; }

    /// <summary>Failed attempts of the current job (validation or finalization).</summary>
    [Id(5)] public int JobAttempts { get; set; }

    /// <summary>
    /// Set when a task of a running batch was given up on (a JSON array of BatchError objects): the batch winds down (no
    /// more calls; every chunk ends its unrun items as <c>batch_failed</c>), is finalized with the results of what ran,
    /// and then ends <c>failed</c> with these errors.
    /// </summary>
    [Id(7)] public string? FailErrors { get; set; }
}

/// <summary>A dispatched chunk: its last reported totals, and how many runs were started for it (attempts).</summary>
[GenerateSerializer, Alias("relay.running-chunk")]
public sealed class RunningChunk
{
    [Id(0)] public ChunkTotals Totals { get; set; }

    [Id(1)] public int Starts { get; set; }
}

/// <summary>
/// What a chunk grain persists (state <c>chunk</c>): each ended item's end, decided once. An end keeps its settlement
/// until the tenant grain has booked it (the outbox), so a chunk revived after a crash books what its predecessor could not.
/// </summary>
[GenerateSerializer, Alias("relay.chunk-record")]
public sealed class ChunkRecord
{
    [Id(0)] public Dictionary<int, ItemEndRecord> Ends { get; set; } = [];

    /// <summary>Every item ended, was booked and went to the chunk's result files; <see cref="Ends"/> is then dropped.</summary>
    [Id(1)] public bool Done { get; set; }

    /// <summary>The totals once done (while running they are counted from <see cref="Ends"/>).</summary>
    [Id(2)] public ChunkTotals Totals { get; set; }
}

/// <summary>One item's end: how it ended, which activation's part file holds its line, and its usage while unbooked.</summary>
[GenerateSerializer, Immutable, Alias("relay.item-end")]
public sealed record ItemEndRecord(
    [property: Id(0)] ItemOutcome Outcome,
    [property: Id(1)] string Owner,
    [property: Id(2)] bool Expired,
    [property: Id(3)] long InputTokens,
    [property: Id(4)] long OutputTokens,
    [property: Id(5)] Core.Tenants.Settlement? Unbooked,
    [property: Id(6)] long CachedTokens = 0,
    [property: Id(7)] long ReasoningTokens = 0);
