namespace RelayCluster.Core.Batches;

/// <summary>
/// Batch ids: <c>batch_</c> and 32 lowercase hex digits (128 random bits). The one definition used to mint ids
/// and to check every id a caller sends, so an id that reaches a store can only name a batch key, never a
/// sibling (<c>batch_X:chunks</c>) or a pattern.
/// </summary>
public static class BatchIds
{
    public const string Prefix = "batch_";
    private const int HexDigits = 32;

    /// <summary>A new random batch id.</summary>
    public static string New() => HexIds.New(Prefix, HexDigits);

    /// <summary>True only for an id of exactly the shape <see cref="New"/> makes.</summary>
    public static bool IsValid(string? id) => HexIds.IsValid(id, Prefix, HexDigits);
}
