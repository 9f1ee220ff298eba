using System.Collections.Concurrent;

namespace RelayCluster.Core.Streams;

/// <summary>
/// The embedded store's channel: entries in a list under a lock (the oldest trimmed beyond MaxEntries), and a
/// signal that every append replaces, so the stream's shared reader wakes on each new entry without polling.
/// </summary>
internal sealed class MemoryStreamChannel(string streamId, StreamFollowers followers, int maxEntries, Action ended) : IStreamChannel, IStreamSource
{
    private readonly Lock _gate = new();
    private readonly List<StreamEntry> _entries = [];
    private TaskCompletionSource _appended = NewSignal();
    private long _trimmed; // entries dropped from the front: _entries[i] has sequence _trimmed + i + 1
    private string? _owner;

    public ValueTask OpenAsync(string tenantId)
    {
        lock (_gate)
        {
            _owner ??= tenantId;
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<string?> OwnerAsync()
    {
        lock (_gate)
        {
            return ValueTask.FromResult(_owner);
        }
    }

    public ValueTask<long> AppendAsync(StreamEntryKind kind, string data)
    {
        StreamEntryKinds.EnsureAppendable(kind);
        TaskCompletionSource wake;
        long sequence;
        lock (_gate)
        {
            if (_entries.Count > 0 && _entries[^1].IsTerminal)
            {
                throw new InvalidOperationException("The stream has ended; nothing can follow its terminal entry.");
            }

            sequence = _trimmed + _entries.Count + 1;
            _entries.Add(new StreamEntry(sequence, kind, data));
            // Trimmed in runs of an eighth of the cap (like Redis's MAXLEN ~), so a long stream does not shift its list on every append.
            if (_entries.Count >= maxEntries + Math.Max(1, maxEntries / 8))
            {
                var excess = _entries.Count - maxEntries;
                _entries.RemoveRange(0, excess);
                _trimmed += excess;
            }

            wake = _appended;
            _appended = NewSignal();
        }

        wake.TrySetResult();
        if (kind is StreamEntryKind.Completed or StreamEntryKind.Failed)
        {
            ended();
        }

        return ValueTask.FromResult(sequence);
    }

    public ValueTask<IReadOnlyList<StreamEntry>> ReadAsync(long afterSequence, int max)
    {
        lock (_gate)
        {
            var start = (int)Math.Clamp(afterSequence - _trimmed, 0, _entries.Count);
            return ValueTask.FromResult<IReadOnlyList<StreamEntry>>(_entries.GetRange(start, Math.Min(max, _entries.Count - start)));
        }
    }

    public ValueTask<long> LastSequenceAsync()
    {
        lock (_gate)
        {
            return ValueTask.FromResult(_trimmed + _entries.Count);
        }
    }

    public IAsyncEnumerable<StreamEntry> FollowAsync(long afterSequence, CancellationToken cancellationToken) =>
        followers.FollowAsync(streamId, this, afterSequence, cancellationToken);

    public ValueTask<IStreamWatch> WatchAsync() => ValueTask.FromResult<IStreamWatch>(new Watch(this));

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed class Watch(MemoryStreamChannel channel) : IStreamWatch
    {
        public Task NextAppend()
        {
            lock (channel._gate)
            {
                return channel._appended.Task;
            }
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

/// <summary>
/// One channel per stream id, kept for <paramref name="retention"/> after its terminal entry so that late and
/// reconnecting subscribers can still replay it, then dropped. Its followers share one reader per stream.
/// </summary>
public sealed partial class MemoryStreamChannelFactory(TimeSpan retention, TimeProvider time, StreamSettings? settings = null) : IStreamChannelFactory
{
    private readonly ConcurrentDictionary<string, MemoryStreamChannel> _channels = new(StringComparer.Ordinal);
    private readonly int _maxEntries = (settings ?? new StreamSettings()).MaxEntries;

    /// <summary>This store's followers: one shared reader per followed stream.</summary>
    public StreamFollowers Followers { get; } = new(settings ?? new StreamSettings(), time);

    public IStreamChannel GetChannel(string streamId) =>
        _channels.GetOrAdd(streamId, id => new MemoryStreamChannel(id, Followers, _maxEntries, () => _ = ForgetLaterAsync(id)));

    private async Task ForgetLaterAsync(string streamId)
    {
        await Task.Delay(retention, time);
        _channels.TryRemove(streamId, out _);
    }
}
