using System.Buffers;

namespace RelayCluster.Core.Auth;

/// <summary>
/// Tenant ids: 1 to 64 ASCII letters, digits, <c>-</c> or <c>_</c>. They become Redis key names and hash tags
/// (<c>{t:id}</c>) and directory names, so nothing in them may need escaping: no braces, no <c>:</c>, no spaces.
/// Checked when a tenant is created (admin API, configuration) and on every admin path that names one.
/// </summary>
public static class TenantIds
{
    public const int MaxLength = 64;
    private static readonly SearchValues<char> Allowed = SearchValues.Create("-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz");

    /// <summary>What an invalid id is told, in the words of a 400's message.</summary>
    public const string Expected = "expected 1 to 64 letters, digits, '-' or '_'.";

    public static bool IsValid(string? id) => id is { Length: > 0 and <= MaxLength } && !id.AsSpan().ContainsAnyExcept(Allowed);
}
