using System.Security.Cryptography;
using System.Text;
using RelayCluster.Core.Configuration;

namespace RelayCluster.Silo.Http;

internal static class AdminKeys
{
    /// <summary>Whether <paramref name="key"/> is the admin key, compared in constant time.</summary>
    public static bool Matches(RelayOptions options, string? key) =>
        key is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(options.AdminKey!));
}
