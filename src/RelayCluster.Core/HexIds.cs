using System.Buffers;
using System.Security.Cryptography;

namespace RelayCluster.Core;

/// <summary>
/// Ids of the shape <c>prefix</c> + lowercase hex digits (batch, stream and key ids): one place to mint them and to
/// check that a string has exactly that shape, so an id from a path can name nothing but such an object.
/// </summary>
public static class HexIds
{
    private static readonly SearchValues<char> Hex = SearchValues.Create("0123456789abcdef");

    /// <summary><paramref name="prefix"/> and <paramref name="digits"/> random hex digits (4 random bits each; even counts).</summary>
    public static string New(string prefix, int digits) => prefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(digits / 2));

    /// <summary>True only for <paramref name="prefix"/> followed by exactly <paramref name="digits"/> lowercase hex digits.</summary>
    public static bool IsValid(string? id, string prefix, int digits) =>
        id is not null && id.Length == prefix.Length + digits && id.StartsWith(prefix, StringComparison.Ordinal)
        && !id.AsSpan(prefix.Length).ContainsAnyExcept(Hex);
}
