using System.Globalization;
using StackExchange.Redis;
using RelayCluster.Core.Streams;
// StackExchange.Redis 2.x has a StreamEntry of its own (for XREAD/XRANGE); this file means the relay's.
using StreamEntry = RelayCluster.Core.Streams.StreamEntry;

namespace RelayCluster.Redis;

/// <summary>
/// A stream channel in the cluster: a capped Redis Stream under the hash tag <c>{s:id}</c>, appended by one
/// Lua turn that numbers the entry and publishes its sequence. A silo's followers of one stream share one
/// reader (<see cref="StreamFollowers"/>): one subscription to that notification and one XRANGE per notice,
/// never a blocking command on the shared connection; a notification lost while disconnected is covered by a
/// one-second fallback read.
/// </summary>
internal sealed class RedisStreamChannel(string streamId, RedisConnection redis, RedisStreamOptions options, StreamFollowers followers)
    : IStreamChannel, IStreamSource
{
    private static readonly RedisScript Append = RedisScript.Named("stream-append");

    // The owner is set once (HSETNX) with the same lifetime as an abandoned stream.
    private static readonly RedisScript Open = new(
        "redis.call('HSETNX', KEYS[1], 'tenant', ARGV[1]) redis.call('EXPIRE', KEYS[1], ARGV[2]) return 1");

    private readonly RedisKey _entries = "{s:" + streamId + "}:entries";
    private readonly RedisKey _meta = "{s:" + streamId + "}:meta";
    private readonly string _notifications = "relay:stream:" + streamId;

    public async ValueTask OpenAsync(string tenantId) =>
        await redis.EvaluateAsync(Open, [_meta], [tenantId, options.AbandonedSeconds]);

    public async ValueTask<string?> OwnerAsync()
    {
        var owner = await redis.HashGetAsync(_meta, "tenant");
        return owner.IsNull ? null : (string?)owner;
    }

    public async ValueTask<long> AppendAsync(StreamEntryKind kind, string data)
    {
        StreamEntryKinds.EnsureAppendable(kind);
        try
        {
            return (long)await redis.EvaluateAsync(Append, [_entries, _meta],
                [StreamEntryKinds.Name(kind), data, options.MaxEntries, options.RetentionSeconds, options.AbandonedSeconds, _notifications]);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("ENDED", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("The stream has ended; nothing can follow its terminal entry.", ex);
        }
    }

    public async ValueTask<IReadOnlyList<StreamEntry>> ReadAsync(long afterSequence, int max)
    {
        var entries = await redis.StreamRangeAsync(_entries, $"{afterSequence + 1}-0", max);
        return entries.Select(ToEntry).ToList();
    }

    public async ValueTask<long> LastSequenceAsync()
    {
        var sequence = await redis.HashGetAsync(_meta, "seq");
        return sequence.IsNull ? 0 : (long)sequence;
    }

    public IAsyncEnumerable<StreamEntry> FollowAsync(long afterSequence, CancellationToken cancellationToken) =>
        followers.FollowAsync(streamId, this, afterSequence, cancellationToken);

    public async ValueTask<IStreamWatch> WatchAsync()
    {
        var watch = new Watch();
        watch.Subscription = await redis.SubscribeWhileAsync(_notifications, watch.Notify);
        return watch;
    }

    // Entry ids are "<sequence>-1"; fields "k" (kind) and "d" (data), as stream-append.lua writes them.
    private static StreamEntry ToEntry(StackExchange.Redis.StreamEntry entry)
    {
        var id = (string)entry.Id!;
        return new StreamEntry(
            long.Parse(id.AsSpan(0, id.IndexOf('-', StringComparison.Ordinal)), CultureInfo.InvariantCulture),
            StreamEntryKinds.Parse((string)entry["k"]!), (string)entry["d"]!);
    }

    /// <summary>The stream's pub/sub notices, as a signal re-armed before each read.</summary>
    private sealed class Watch : IStreamWatch
    {
        private TaskCompletionSource _signal = NewSignal();

        public IAsyncDisposable? Subscription { get; set; }

        public void Notify() => Volatile.Read(ref _signal).TrySetResult();

        public Task NextAppend()
        {
            var signal = Volatile.Read(ref _signal);
            if (signal.Task.IsCompleted)
            {
                // A notice handled before this swap was for an entry already stored, so the coming read sees it.
                signal = NewSignal();
                Volatile.Write(ref _signal, signal);
            }

            return signal.Task;
        }

        public async ValueTask DisposeAsync()
        {
            if (Subscription is { } subscription)
            {
                await subscription.DisposeAsync();
            }
        }

        private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <param name="MaxEntries">Entries kept per stream (the oldest go first).</param>
/// <param name="RetentionSeconds">How long an ended stream stays readable for late and reconnecting subscribers.</param>
/// <param name="AbandonedSeconds">How long a stream lives after its last append if it never ends (its writer died).</param>
public sealed record RedisStreamOptions(int MaxEntries = 100_000, int RetentionSeconds = 600, int AbandonedSeconds = 3600);

/// <summary>Channels on one Redis; this silo's followers of a stream share one reader (<paramref name="followers"/>).</summary>
public sealed partial class RedisStreamChannelFactory(RedisConnection redis, RedisStreamOptions options, StreamFollowers followers) : IStreamChannelFactory
{
    public StreamFollowers Followers => followers;

    public IStreamChannel GetChannel(string streamId) => new RedisStreamChannel(streamId, redis, options, followers);
}
