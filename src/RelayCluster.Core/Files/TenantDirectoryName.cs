using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace RelayCluster.Core.Files;

/// <summary>
/// A tenant id as a directory name: lowercase letters, digits, <c>-</c> and <c>_</c> stay as they are (so the usual
/// ids read plainly); every other UTF-8 byte, upper case and <c>.</c> included, becomes <c>~xx</c> (lowercase hex).
/// The mapping is one-to-one, never yields <c>.</c>, <c>..</c> or a separator, and never differs only by case, so
/// no tenant id can reach outside the store or into another tenant's directory, even on a case-insensitive volume.
/// Names that would be too long for a file system become <c>~h</c> + SHA-256 hex, which no escaped name can be
/// (<c>h</c> is not a hex digit).
/// </summary>
internal static class TenantDirectoryName
{
    private const int MaxLength = 200;

    public static string Encode(string tenantId)
    {
        ArgumentException.ThrowIfNullOrEmpty(tenantId);
        var builder = new StringBuilder(tenantId.Length);
        foreach (var b in Encoding.UTF8.GetBytes(tenantId))
        {
            if (b is (>= (byte)'a' and <= (byte)'z') or (>= (byte)'0' and <= (byte)'9') or (byte)'-' or (byte)'_')
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append('~').Append(b.ToString("x2", CultureInfo.InvariantCulture));
            }
        }

        return builder.Length <= MaxLength
            ? builder.ToString()
            : "~h" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(tenantId)));
    }
}
