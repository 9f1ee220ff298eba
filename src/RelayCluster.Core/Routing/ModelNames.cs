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
}
