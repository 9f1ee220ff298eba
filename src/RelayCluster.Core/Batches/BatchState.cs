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
public sealed record BatchState
{
    public required string Id { get; init; }
    public required string TenantId { get; init; }
    public required string Endpoint { get; init; }
    public required string InputFileId { get; init; }
    public string CompletionWindow { get; init; } = "24h";
    public required string Status { get; init; }
    public required long CreatedAt { get; init; }
    public required long ExpiresAt { get; init; }
    public long? InProgressAt { get; init; }
    public long? FinalizingAt { get; init; }
    public long? CompletedAt { get; init; }
    public long? FailedAt { get; init; }
    public long? ExpiredAt { get; init; }
    public long? CancellingAt { get; init; }
    public long? CancelledAt { get; init; }
    public long Total { get; init; }
    public long Completed { get; init; }
    public long Failed { get; init; }

    /// <summary>Failed items that failed because the completion window closed before they ran.</summary>
    public long ExpiredItems { get; init; }

    public string? OutputFileId { get; init; }
    public string? ErrorFileId { get; init; }

    /// <summary>The validation errors that failed the batch, as a JSON array of OpenAI BatchError objects.</summary>
    public string? ErrorsJson { get; init; }

    /// <summary>The caller's metadata object as JSON, or null.</summary>
    public string? MetadataJson { get; init; }

    public string? Model { get; init; }
    public long InputTokens { get; init; }
    public long OutputTokens { get; init; }

    /// <summary>Chunks the items were split into (set when validation passes).</summary>
    public int Chunks { get; init; }

    /// <summary>Whether every item has ended (so the batch can be finalized).</summary>
    public bool AllItemsEnded => Total > 0 && Completed + Failed >= Total;
}

/// <summary>What <c>POST /v1/batches</c> asks for.</summary>
public sealed record BatchCreation(
    string Id, string TenantId, string Endpoint, string InputFileId, string? MetadataJson, long CreatedAt, long ExpiresAt);

/// <summary>A run of input lines processed together: lines [FirstLine, FirstLine + Count), starting at byte Offset.</summary>
public readonly record struct BatchChunk(int Index, int FirstLine, int Count, long Offset);

/// <summary>How one item ended.</summary>
public enum ItemOutcome
{
    /// <summary>A 2xx answer: its line goes to the output file.</summary>
    Succeeded,
    /// <summary>An error answer, an exhausted retry, expiry or cancellation: its line goes to the error file.</summary>
    Failed,
}

/// <summary>One item's end, recorded once per item; <paramref name="Owner"/> names the part file holding its line.</summary>
public readonly record struct ItemEnd(int Item, ItemOutcome Outcome, string Owner, long InputTokens = 0, long OutputTokens = 0, bool Expired = false);

/// <summary>The answer to recording an item's end.</summary>
/// <param name="First">False when the item had already ended (a worker whose lease was taken over): nothing was counted or booked.</param>
public readonly record struct ItemRecorded(bool First, string Status, long Completed, long Failed, long Total);

public sealed record BatchPage(IReadOnlyList<BatchState> Batches, bool HasMore);
