using System.Buffers;

namespace RelayCluster.Redis;

/// <summary>
/// The store's own last line against an id that would name another key: ids are checked against their formats
/// (BatchIds, StreamIds) before they reach a store; this refuses, whatever the caller, the characters by which an
/// id could reach a sibling key (<c>:</c>), another hash tag (braces) or be mistaken in a command (spaces, control
/// characters). Tests and tools may use shorter ids; the API never sends one that fails its format.
/// </summary>
internal static class RedisKeyParts
{
    private static readonly SearchValues<char> Unsafe = SearchValues.Create(":{}*?[] ");

    public static bool IsSafe(string? id) => id is { Length: > 0 and <= 256 } && !id.AsSpan().ContainsAny(Unsafe) && !id.AsSpan().ContainsAnyInRange('\0', '\u001f');
}
