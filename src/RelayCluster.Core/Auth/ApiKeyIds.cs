namespace RelayCluster.Core.Auth;

/// <summary>
/// Key ids: <c>key_</c> and the first 16 hex digits of the key's SHA-256 (public, and stable for a key). One
/// definition to derive them and to check the ids admin paths carry.
/// </summary>
public static class ApiKeyIds
{
    public const string Prefix = "key_";
    private const int HexDigits = 16;

    /// <summary>The id of a key from its lowercase hex SHA-256 (<see cref="ApiKeyHash.Of"/>).</summary>
    public static string FromHash(string hash) => Prefix + hash[..HexDigits];

    public static bool IsValid(string? id) => HexIds.IsValid(id, Prefix, HexDigits);
}
