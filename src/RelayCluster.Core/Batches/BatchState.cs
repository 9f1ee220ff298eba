namespace RelayCluster.Core.Batches;

/// <summary>The status names of OpenAI's Batch object, and which of them are final.</summary>
public static class BatchStatus
{
    public const string Validating = "validating";
    public const string Failed = "failed";
    public const string InProgress = "in_progress";
    public const string Finalizing = "finalizing";
    public const string Completed = "completed";
    public const string Expired = "expired";
    public const string Cancelling = "cancelling";
    public const string Cancelled = "cancelled";

    public static bool IsFinal(string status) => status is Failed or Completed or Expired or Cancelled;
}

/// <summary>
/// A batch as its grain holds it: OpenAI's Batch object (timestamps in unix seconds, null until reached) plus
/// what the workers need. Counts are exact: every item ends exactly once, as a success or a failure.
/// </summary>
[GenerateSerializer, Immutable, Alias("relay.batch-state")]
public sealed record BatchState
{
    [Id(0)] public required string Id { get; init; }
    [Id(1)] public required string TenantId { get; init; }
    [Id(2)] public required string Endpoint { get; init; }
    [Id(3)] public required string InputFileId { get; init; }
    [Id(4)] public string CompletionWindow { get; init; } = "24h";
    [Id(5)] public required string Status { get; init; }
    [Id(6)] public required long CreatedAt { get; init; }
    [Id(7)] public required long ExpiresAt { get; init; }
    [Id(8)] public long? InProgressAt { get; init; }
    [Id(9)] public long? FinalizingAt { get; init; }
    [Id(10)] public long? CompletedAt { get; init; }
    [Id(11)] public long? FailedAt { get; init; }
    [Id(12)] public long? ExpiredAt { get; init; }
    [Id(13)] public long? CancellingAt { get; init; }
    [Id(14)] public long? CancelledAt { get; init; }
    [Id(15)] public long Total { get; init; }
    [Id(16)] public long Completed { get; init; }
    [Id(17)] public long Failed { get; init; }

    /// <summary>Failed items that failed because the completion window closed before they ran.</summary>
    [Id(18)] public long ExpiredItems { get; init; }

    [Id(19)] public string? OutputFileId { get; init; }
    [Id(20)] public string? ErrorFileId { get; init; }

    /// <summary>The validation errors that failed the batch, as a JSON array of OpenAI BatchError objects.</summary>
    [Id(21)] public string? ErrorsJson { get; init; }

    /// <summary>The caller's metadata object as JSON, or null.</summary>
    [Id(22)] public string? MetadataJson { get; init; }

    [Id(23)] public string? Model { get; init; }
    [Id(24)] public long InputTokens { get; init; }
    [Id(25)] public long OutputTokens { get; init; }

    /// <summary>Cached input and reasoning tokens the items' upstreams reported (the usage object's details).</summary>
    [Id(27)] public long CachedTokens { get; init; }
    [Id(28)] public long ReasoningTokens { get; init; }

    /// <summary>Chunks the items were split into (set when validation passes).</summary>
    [Id(26)] public int Chunks { get; init; }

    /// <summary>Whether every item has ended (so the batch can be finalized).</summary>
    public bool AllItemsEnded => Total > 0 && Completed + Failed >= Total;
}

/// <summary>What <c>POST /v1/batches</c> asks for (times in unix seconds).</summary>
[GenerateSerializer, Immutable, Alias("relay.batch-creation")]
public sealed record BatchCreation(
    [property: Id(0)] string Id, [property: Id(1)] string TenantId, [property: Id(2)] string Endpoint, [property: Id(3)] string InputFileId,
    [property: Id(4)] string? MetadataJson, [property: Id(5)] long CreatedAt, [property: Id(6)] long ExpiresAt);

/// <summary>A run of input lines processed together: lines [FirstLine, FirstLine + Count), starting at byte Offset.</summary>
[GenerateSerializer, Immutable, Alias("relay.batch-chunk-range")]
public readonly record struct BatchChunk([property: Id(0)] int Index, [property: Id(1)] int FirstLine, [property: Id(2)] int Count, [property: Id(3)] long Offset);

/// <summary>How one item ended.</summary>
public enum ItemOutcome
{
    /// <summary>A 2xx answer: its line goes to the output file.</summary>
    Succeeded,
    /// <summary>An error answer, an exhausted retry, expiry or cancellation: its line goes to the error file.</summary>
    Failed,
}

public sealed record BatchPage(IReadOnlyList<BatchState> Batches, bool HasMore);
