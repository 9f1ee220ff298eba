using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace RelayCluster.Core.Streams;

/// <summary>
/// Every follower of every stream in this process (one instance per store, so per silo). A stream's followers
/// share one <see cref="SharedStreamReader"/>: one store watch (in Redis one pub/sub subscription) and one read
/// per append notice, fanned out in memory to a bounded buffer per follower, so the store's work per entry does
/// not grow with the number of subscribers. The reader starts with its first follower and stops with its last.
/// </summary>
/// <remarks>
/// A follower joins the live feed first and then replays from the store what came before the point where it
/// joined, so it misses nothing in between; entries are deduplicated by sequence. A follower whose buffer fills
/// (its consumer stopped reading) is dropped from the feed rather than allowed to slow the reader and everyone
/// else: it still gets what it has buffered, then a Lagged notice, and may follow again from there, which replays
/// from the store.
/// </remarks>
public sealed class StreamFollowers(StreamSettings settings, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, SharedStreamReader> _readers = new(StringComparer.Ordinal);

    /// <summary>Streams that have a shared reader right now.</summary>
    public int ActiveReaders => _readers.Count;

    internal StreamSettings Settings { get; } = Validated(settings);

    internal TimeProvider Time { get; } = time;

    /// <summary>The <see cref="IStreamChannel.FollowAsync"/> of every store: entries after a sequence, stored then live.</summary>
    public async IAsyncEnumerable<StreamEntry> FollowAsync(
        string streamId, IStreamSource source, long afterSequence, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var follower = Attach(streamId, source);
        try
        {
            var last = afterSequence;
            // What was stored before this follower joined comes from the store; everything after arrives live.
            var joinedAt = await follower.JoinedAt.WaitAsync(cancellationToken);
            await foreach (var entry in ReplayAsync(source, last, joinedAt, cancellationToken))
            {
                yield return entry;
                if (!entry.IsNotice)
                {
                    last = entry.Sequence;
                }

                if (entry.IsTerminal)
                {
                    yield break;
                }
            }

            while (await follower.Live.WaitToReadAsync(cancellationToken))
            {
                while (follower.Live.TryRead(out var entry))
                {
                    if (entry.Sequence <= last)
                    {
                        continue; // replayed already
                    }

                    if (entry.Sequence > last + 1)
                    {
                        // Trimmed before anyone here could read it (MaxEntries): say so rather than skip silently.
                        yield return StreamEntryKinds.Gap(last + 1, entry.Sequence);
                    }

                    yield return entry;
                    last = entry.Sequence;
                    if (entry.IsTerminal)
                    {
                        yield break;
                    }
                }
            }

            if (!follower.Lagged)
            {
                throw new InvalidOperationException($"The shared reader of stream {streamId} stopped before its end.");
            }

            yield return StreamEntryKinds.Lagged(last);
        }
        finally
        {
            follower.Detach();
        }
    }

    /// <summary>Stored entries after <paramref name="after"/> up to <paramref name="upTo"/>, with a Gap notice where some were trimmed.</summary>
    private async IAsyncEnumerable<StreamEntry> ReplayAsync(
        IStreamSource source, long after, long upTo, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var last = after;
        while (last < upTo)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var batch = await source.ReadAsync(last, (int)Math.Min(Settings.ReadBatch, upTo - last));
            if (batch.Count == 0 || batch[0].Sequence > upTo)
            {
                yield break; // trimmed up to where the live feed starts: the live loop reports the gap
            }

            if (batch[0].Sequence > last + 1)
            {
                yield return StreamEntryKinds.Gap(last + 1, batch[0].Sequence);
            }

            foreach (var entry in batch)
            {
                if (entry.Sequence > upTo)
                {
                    yield break;
                }

                yield return entry;
                last = entry.Sequence;
            }
        }
    }

    private SharedStreamReader.Follower Attach(string streamId, IStreamSource source)
    {
        while (true)
        {
            var reader = _readers.GetOrAdd(streamId, static (id, state) => new SharedStreamReader(id, state.source, state.self), (source, self: this));
            if (reader.TryAttach() is { } follower)
            {
                return follower;
            }

            Forget(reader); // it stopped (its stream ended, or its last follower left) before we could join: replace it
        }
    }

    private static StreamSettings Validated(StreamSettings settings)
    {
        settings.Validate();
        return settings;
    }

    internal void Forget(SharedStreamReader reader) => _readers.TryRemove(KeyValuePair.Create(reader.StreamId, reader));
}
