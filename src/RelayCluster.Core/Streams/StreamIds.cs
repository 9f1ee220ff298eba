using RelayCluster.Core.Batches;

namespace RelayCluster.Core.Streams;

/// <summary>
/// Stream (fan-out channel) ids, one definition to mint and to check them: a completion's stream is <c>strm_</c>
/// and 32 lowercase hex digits (128 random bits); a batch's progress channel is <c>batch:</c> and its batch id.
/// Nothing else names a channel, so an id from a path can never reach another key of the store.
/// </summary>
public static class StreamIds
{
    public const string Prefix = "strm_";
    public const string BatchPrefix = "batch:";
    private const int HexDigits = 32;

    /// <summary>A new random completion stream id.</summary>
    public static string New() => HexIds.New(Prefix, HexDigits);

    /// <summary>The progress channel of a batch.</summary>
    public static string ForBatch(string batchId) => BatchPrefix + batchId;

    /// <summary>True for a completion stream id or a batch progress channel id, in exactly the shapes minted.</summary>
    public static bool IsValid(string? id) =>
        id is not null && (id.StartsWith(BatchPrefix, StringComparison.Ordinal)
            ? BatchIds.IsValid(id[BatchPrefix.Length..])
            : HexIds.IsValid(id, Prefix, HexDigits));
}
