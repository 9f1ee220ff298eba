namespace RelayCluster.Core.Streams;

public enum StreamEntryKind
{
    Token,
    /// <summary>The completion ended normally; the data carries the finish reason and usage. Terminal.</summary>
    Completed,
    /// <summary>The completion failed; the data carries the error. Terminal.</summary>
    Failed,
}

/// <summary>One entry of a stream, numbered from 1 in the order it was appended.</summary>
public sealed record StreamEntry(long Sequence, StreamEntryKind Kind, string Data)
{
    public bool IsTerminal => Kind != StreamEntryKind.Token;
}

/// <summary>
/// The ordered entries of one live completion, for subscribers wherever they are connected: a grain keyed by
/// stream id. Appends are numbered by the channel itself, so sequences are gap-free and unique; a follower
/// that starts late or resumes after a drop replays from any sequence and then continues live, with no gap
/// and no duplicate.
/// </summary>
public interface IStreamChannel
{
    /// <summary>Records which tenant owns the stream, before its first entry; only that tenant may subscribe.</summary>
    ValueTask OpenAsync(string tenantId);

    /// <summary>The owning tenant, or null if no such stream exists (never opened, or expired).</summary>
    ValueTask<string?> OwnerAsync();

    ValueTask<long> AppendAsync(StreamEntryKind kind, string data);

    /// <summary>Up to <paramref name="max"/> entries after <paramref name="afterSequence"/>, in order.</summary>
    ValueTask<IReadOnlyList<StreamEntry>> ReadAsync(long afterSequence, int max);

    /// <summary>Every entry after <paramref name="afterSequence"/>: what is stored, then live ones, up to the terminal entry.</summary>
    IAsyncEnumerable<StreamEntry> FollowAsync(long afterSequence, CancellationToken cancellationToken);
}

public interface IStreamChannelFactory
{
    IStreamChannel GetChannel(string streamId);
}
