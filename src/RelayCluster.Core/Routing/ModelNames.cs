using System.Buffers;

namespace RelayCluster.Core.Routing;

/// <summary>
/// Model and route names: 1 to 256 ASCII letters, digits and <c>- . _ : / @ +</c> (enough for
/// <c>gpt-4o-2024-08-06</c>, <c>org/model</c>, <c>llama3:8b</c>). Route names become Redis hash tags of the shadow
/// store, so braces, spaces, wildcards and control characters are refused. Checked on configured models and
/// routes at start and on every path that names a model or route.
/// </summary>
public static class ModelNames
{
    public const int MaxLength = 256;
    private static readonly SearchValues<char> Allowed = SearchValues.Create("+-./0123456789:@ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz");

    public static bool IsValid(string? name) => name is { Length: > 0 and <= MaxLength } && !name.AsSpan().ContainsAnyExcept(Allowed);

    /// <summary>
    /// The one name no route may take, in any case: <c>GET /admin/routes/stats</c> is the per-target statistics (routing
    /// matches that literal before <c>{model}</c>, and ignoring case), so a route of that name could be listed but never
    /// read by name. A model may be called so; only a route's name is a path under /admin/routes.
    /// </summary>
    public const string ReservedRouteName = "stats";

    /// <summary>Whether <paramref name="name"/> is <see cref="ReservedRouteName"/> in some case.</summary>
    public static bool IsReservedRoute(string name) => string.Equals(name, ReservedRouteName, StringComparison.OrdinalIgnoreCase);
}
