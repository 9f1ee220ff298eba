using System.Security.Cryptography;
using System.Text;

namespace RelayCluster.Core.Auth;

/// <summary>
/// Keys are kept only as SHA-256 hashes. Keys are long random secrets, so a fast unsalted hash is
/// the right choice here (a password hash would cost milliseconds on every request for no gain).
/// </summary>
public static class ApiKeyHash
{
    public static string Of(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>A key as it may appear in messages: the first 6 and last 4 characters, like OpenAI's.</summary>
    public static string Redact(string key) => key.Length <= 12 ? "****" : $"{key[..6]}****{key[^4..]}";
}
