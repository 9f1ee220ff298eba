using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace RelayCluster.Core.Streams;

/// <summary>
/// The embedded store's channel: entries in a list under a lock, and a signal that every append replaces,
/// so followers wake on each new entry without polling.
/// </summary>
internal sealed class MemoryStreamChannel(Action ended) : IStreamChannel
{
    private readonly Lock _gate = new();
    private readonly List<StreamEntry> _entries = [];
    private TaskCompletionSource _appended = NewSignal();
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
        TaskCompletionSource wake;
        long sequence;
        lock (_gate)
        {
            if (_entries.Count > 0 && _entries[^1].IsTerminal)
            {
                throw new InvalidOperationException("The stream has ended; nothing can follow its terminal entry.");
            }

            sequence = _entries.Count + 1;
            _entries.Add(new StreamEntry(sequence, kind, data));
            wake = _appended;
            _appended = NewSignal();
        }

        wake.TrySetResult();
        if (kind != StreamEntryKind.Token)
        {
            ended();
        }

        return ValueTask.FromResult(sequence);
    }

    public ValueTask<IReadOnlyList<StreamEntry>> ReadAsync(long afterSequence, int max)
    {
        lock (_gate)
        {
            var start = (int)Math.Clamp(afterSequence, 0, _entries.Count);
            return ValueTask.FromResult<IReadOnlyList<StreamEntry>>(_entries.GetRange(start, Math.Min(max, _entries.Count - start)));
        }
    }

    public async IAsyncEnumerable<StreamEntry> FollowAsync(long afterSequence, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var last = afterSequence;
        while (true)
        {
            Task appended;
            IReadOnlyList<StreamEntry> batch;
            lock (_gate)
            {
                appended = _appended.Task; // taken with the read, so no append can slip between them
                var start = (int)Math.Clamp(last, 0, _entries.Count);
                batch = _entries.GetRange(start, _entries.Count - start);
            }

            foreach (var entry in batch)
            {
                yield return entry;
                last = entry.Sequence;
                if (entry.IsTerminal)
                {
                    yield break;
                }
            }

            await appended.WaitAsync(cancellationToken);
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// One channel per stream id, kept for <paramref name="retention"/> after its terminal entry so that late and
/// reconnecting subscribers can still replay it, then dropped.
/// </summary>
public sealed class MemoryStreamChannelFactory(TimeSpan retention, TimeProvider time) : IStreamChannelFactory
{
    private readonly ConcurrentDictionary<string, MemoryStreamChannel> _channels = new(StringComparer.Ordinal);

    public IStreamChannel GetChannel(string streamId) =>
        _channels.GetOrAdd(streamId, id => new MemoryStreamChannel(() => _ = ForgetLaterAsync(id)));

    private async Task ForgetLaterAsync(string streamId)
    {
        await Task.Delay(retention, time);
        _channels.TryRemove(streamId, out _);
    }
}
