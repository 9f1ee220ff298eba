using System.Threading.Channels;

namespace RelayCluster.Core.Streams;

/// <summary>
/// The one reader of a stream in this process: watches the store for appends, reads each new run of entries
/// once, and offers every entry to each follower's bounded buffer without ever waiting on one. Closed for good
/// when the stream's terminal entry is fanned out, when its last follower leaves, or when the store fails.
/// </summary>
internal sealed class SharedStreamReader(string streamId, IStreamSource source, StreamFollowers owner)
{
    private readonly Lock _gate = new();
    private readonly List<Follower> _followers = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<long> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _cursor = -1; // the last sequence offered to the followers; -1 until the reader has found the stream's head
    private bool _running;
    private bool _closed;

    public string StreamId => streamId;

    /// <summary>Joins the live feed at the reader's cursor; null if the reader has closed.</summary>
    public Follower? TryAttach()
    {
        Follower follower;
        bool start;
        lock (_gate)
        {
            if (_closed)
            {
                return null;
            }

            start = !_running;
            _running = true;
            // Before the reader has found the stream's head, followers learn where the live feed starts when it does.
            follower = new Follower(this, _cursor < 0 ? _started.Task : Task.FromResult(_cursor), owner.Settings.SubscriberBuffer);
            _followers.Add(follower);
        }

        if (start)
        {
            _ = RunAsync();
        }

        return follower;
    }

    private void Detach(Follower follower)
    {
        lock (_gate)
        {
            if (!_followers.Remove(follower) || _followers.Count > 0 || _closed)
            {
                return;
            }

            _closed = true;
        }

        Stop();
    }

    private async Task RunAsync()
    {
        var settings = owner.Settings;
        // One read never offers more than half a buffer, so a burst of appends cannot by itself drop a follower that had caught up.
        var batchSize = Math.Max(1, Math.Min(settings.ReadBatch, settings.SubscriberBuffer / 2));
        try
        {
            await using var watch = await source.WatchAsync();
            // The live feed starts at the head, found after the watch began so no later append goes unnoticed.
            // Backlogs are not read here but by each follower at its own pace: a burst of old entries through the
            // bounded buffers would drop every follower that cannot take it all at once.
            var head = await source.LastSequenceAsync();
            lock (_gate)
            {
                _cursor = head;
            }

            _started.TrySetResult(head);
            while (!_stop.IsCancellationRequested)
            {
                var appended = watch.NextAppend(); // armed before the read, so an append during the read wakes the wait
                var batch = await source.ReadAsync(_cursor, batchSize);
                if (batch.Count > 0)
                {
                    if (Publish(batch))
                    {
                        return;
                    }

                    continue;
                }

                try
                {
                    await appended.WaitAsync(settings.FallbackRead, owner.Time, _stop.Token);
                }
                catch (TimeoutException)
                {
                    // No notice in time: read anyway, in case one was lost (pub/sub is at most once).
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
    }

    /// <summary>Offers entries to every follower; true once the reader has closed.</summary>
    private bool Publish(IReadOnlyList<StreamEntry> batch)
    {
        lock (_gate)
        {
            if (_closed)
            {
                return true;
            }

            foreach (var entry in batch)
            {
                _cursor = entry.Sequence;
                for (var i = _followers.Count - 1; i >= 0; i--)
                {
                    if (!_followers[i].Offer(entry))
                    {
                        // A full buffer: its consumer is too slow. Waiting would slow every other follower and pile
                        // up memory, so it leaves the live feed and is told it lagged.
                        _followers[i].Drop();
                        _followers.RemoveAt(i);
                    }
                }

                if (entry.IsTerminal)
                {
                    _followers.ForEach(f => f.End(null));
                    _followers.Clear();
                    break;
                }
            }

            if (_followers.Count > 0)
            {
                return false;
            }

            _closed = true;
        }

        Stop();
        return true;
    }

    private void Fail(Exception error)
    {
        lock (_gate)
        {
            _closed = true;
            _followers.ForEach(f => f.End(error));
            _followers.Clear();
        }

        _started.TrySetException(error);
        owner.Forget(this);
    }

    private void Stop()
    {
        _stop.Cancel();
        owner.Forget(this);
    }

    /// <summary>One follower's place in the live feed: a bounded buffer the reader offers entries to.</summary>
    internal sealed class Follower(SharedStreamReader reader, Task<long> joinedAt, int capacity)
    {
        private readonly Channel<StreamEntry> _live = Channel.CreateBounded<StreamEntry>(
            new BoundedChannelOptions(capacity) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });

        private volatile bool _lagged;

        /// <summary>The reader's cursor when this follower joined: every later entry arrives in <see cref="Live"/>.</summary>
        public Task<long> JoinedAt => joinedAt;

        public ChannelReader<StreamEntry> Live => _live.Reader;

        /// <summary>Dropped from the feed because its buffer was full; what it had buffered is still delivered.</summary>
        public bool Lagged => _lagged;

        public void Detach() => reader.Detach(this);

        internal bool Offer(StreamEntry entry) => _live.Writer.TryWrite(entry);

        internal void Drop()
        {
            _lagged = true;
            _live.Writer.TryComplete();
        }

        internal void End(Exception? error) => _live.Writer.TryComplete(error);
    }
}
