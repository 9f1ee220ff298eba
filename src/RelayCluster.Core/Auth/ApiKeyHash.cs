using System.Security.Cryptography;
using System.Text;

namespace RelayCluster.Core.Auth;

/// <summary>
/// Keys are kept only as SHA-256 hashes. Keys are long random secrets, so a fast unsalted hash is
/// the right choice here (a password hash would cost milliseconds on every request for no gain).
/// </summary>
public static class ApiKeyHash
{
    /// <summary>Characters in a hash: SHA-256's 32 bytes as lower-case hex.</summary>
    public const int Length = 64;

    public static string Of(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>
    /// <see cref="Of"/> written into <paramref name="destination"/> (at least <see cref="Length"/> characters) without
    /// allocating for a key of up to 256 UTF-8 bytes: the per-request lookup of a presented key needs no string for it.
    /// </summary>
    public static void Write(ReadOnlySpan<char> key, Span<char> destination)
    {
        var size = Encoding.UTF8.GetByteCount(key);
        var utf8 = size <= 256 ? stackalloc byte[256] : new byte[size];
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8[..Encoding.UTF8.GetBytes(key, utf8)], hash);
        Convert.TryToHexStringLower(hash, destination, out _);
    }

    /// <summary>A key as it may appear in messages: the first 6 and last 4 characters, like OpenAI's.</summary>
    public static string Redact(string key) => key.Length <= 12 ? "****" : $"{key[..6]}****{key[^4..]}";
}
