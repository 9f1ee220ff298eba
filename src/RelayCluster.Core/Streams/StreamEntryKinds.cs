using System.Globalization;
using System.Text.Json;

namespace RelayCluster.Core.Streams;

/// <summary>The names subscribers and the Redis store see for each kind, and the follower's notices.</summary>
public static class StreamEntryKinds
{
    public static string Name(StreamEntryKind kind) => kind switch
    {
        StreamEntryKind.Token => "token",
        StreamEntryKind.Completed => "completed",
        StreamEntryKind.Failed => "failed",
        StreamEntryKind.Progress => "progress",
        StreamEntryKind.Gap => "gap",
        StreamEntryKind.Lagged => "lagged",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>The kind of a stored entry; an unknown name (written by a newer silo) reads as failed, which ends followers.</summary>
    public static StreamEntryKind Parse(string name) => name switch
    {
        "token" => StreamEntryKind.Token,
        "completed" => StreamEntryKind.Completed,
        "progress" => StreamEntryKind.Progress,
        _ => StreamEntryKind.Failed,
    };

    /// <summary>Throws for what a store may not hold: notices, and kinds this version does not know.</summary>
    public static void EnsureAppendable(StreamEntryKind kind)
    {
        if (kind is StreamEntryKind.Gap or StreamEntryKind.Lagged || !Enum.IsDefined(kind))
        {
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "Notices are produced by followers and never stored.");
        }
    }

    /// <summary>Entries before <paramref name="firstAvailable"/> are gone; the follower asked from <paramref name="requested"/>.</summary>
    internal static StreamEntry Gap(long requested, long firstAvailable) => new(firstAvailable, StreamEntryKind.Gap,
        JsonSerializer.Serialize(new Dictionary<string, long> { ["requested_sequence"] = requested, ["first_sequence"] = firstAvailable }));

    internal static StreamEntry Lagged(long lastDelivered) => new(lastDelivered, StreamEntryKind.Lagged,
        "{\"last_sequence\":" + lastDelivered.ToString(CultureInfo.InvariantCulture) + "}");
}
