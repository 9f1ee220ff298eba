namespace RelayCluster.Core.Streams;

public enum StreamEntryKind
{
    Token,
    /// <summary>The completion ended normally; the data carries the finish reason and usage. Terminal.</summary>
    Completed,
    /// <summary>The stream's producer failed; the data carries the error. Terminal.</summary>
    Failed,
    /// <summary>A progress report (JSON), e.g. of a batch on <c>batch:{id}</c>. Not terminal: the last report is followed by Completed or Failed.</summary>
    Progress,
    /// <summary>
    /// A notice from the follower, never stored: entries before <see cref="StreamEntry.Sequence"/> were trimmed
    /// (MaxEntries) and cannot be replayed; the follow continues from that sequence.
    /// </summary>
    Gap,
    /// <summary>
    /// A notice from the follower, never stored: this follower fell too far behind the live feed and was dropped
    /// from it; <see cref="StreamEntry.Sequence"/> is the last entry it was given. The follow ends here; follow
    /// again after that sequence to replay the rest from the store.
    /// </summary>
    Lagged,
}

/// <summary>One entry of a stream, numbered from 1 in the order it was appended (or a follower's notice).</summary>
public sealed record StreamEntry(long Sequence, StreamEntryKind Kind, string Data)
{
    /// <summary>The stream's last entry: nothing can be appended after it.</summary>
    public bool IsTerminal => Kind is StreamEntryKind.Completed or StreamEntryKind.Failed;

    /// <summary>Produced by a follower for its subscriber only; a store never holds it.</summary>
    public bool IsNotice => Kind is StreamEntryKind.Gap or StreamEntryKind.Lagged;
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

    /// <summary>Appends an entry and returns its sequence; notices (Gap, Lagged) cannot be appended.</summary>
    ValueTask<long> AppendAsync(StreamEntryKind kind, string data);

    /// <summary>Up to <paramref name="max"/> entries after <paramref name="afterSequence"/>, in order.</summary>
    ValueTask<IReadOnlyList<StreamEntry>> ReadAsync(long afterSequence, int max);

    /// <summary>
    /// Every entry after <paramref name="afterSequence"/>: what is stored, then live ones, up to the terminal entry.
    /// All followers of one stream in one process share one reader of the store (<see cref="StreamFollowers"/>);
    /// a Gap notice precedes entries that follow trimmed ones, and a Lagged notice ends a follower that fell behind.
    /// </summary>
    IAsyncEnumerable<StreamEntry> FollowAsync(long afterSequence, CancellationToken cancellationToken);
}

public interface IStreamChannelFactory
{
    IStreamChannel GetChannel(string streamId);
}
