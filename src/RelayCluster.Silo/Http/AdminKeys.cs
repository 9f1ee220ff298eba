using System.Security.Cryptography;
using System.Text;
using RelayCluster.Core.Configuration;

namespace RelayCluster.Silo.Http;

internal static class AdminKeys
{
    /// <summary>Whether <paramref name="key"/> is the admin key, compared in constant time.</summary>
    public static bool Matches(RelayOptions options, string? key) => SameSecret(key, options.AdminKey);

    /// <summary>Whether <paramref name="key"/> is <paramref name="secret"/> (false when either is missing), compared in constant time.</summary>
    public static bool SameSecret(string? key, string? secret) =>
        key is not null && secret is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(secret));
}
