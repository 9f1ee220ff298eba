using System.Globalization;
using System.Runtime.CompilerServices;
using StackExchange.Redis;
using RelayCluster.Core.Streams;

namespace RelayCluster.Redis;

/// <summary>
/// A stream channel in the cluster: a capped Redis Stream under the hash tag <c>{s:id}</c>, appended by one
/// Lua turn that numbers the entry and publishes its sequence. Followers on any silo subscribe to that
/// notification and read with XRANGE, never with a blocking command on the shared connection; a notification
/// lost while disconnected is covered by a one-second fallback read.
/// </summary>
internal sealed class RedisStreamChannel(string streamId, RedisConnection redis, RedisStreamOptions options) : IStreamChannel
{
    private static readonly RedisScript Append = RedisScript.Named("stream-append");

    // The owner is set once (HSETNX) with the same lifetime as an abandoned stream.
    private static readonly RedisScript Open = new(
        "redis.call('HSETNX', KEYS[1], 'tenant', ARGV[1]) redis.call('EXPIRE', KEYS[1], ARGV[2]) return 1");
    private static readonly TimeSpan FallbackPoll = TimeSpan.FromSeconds(1);

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
        try
        {
            return (long)await redis.EvaluateAsync(Append, [_entries, _meta],
                [Name(kind), data, options.MaxEntries, options.RetentionSeconds, options.AbandonedSeconds, _notifications]);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("ENDED", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("The stream has ended; nothing can follow its terminal entry.", ex);
        }
    }

    public async ValueTask<IReadOnlyList<StreamEntry>> ReadAsync(long afterSequence, int max)
    {
        var result = (RedisResult[])(await redis.ExecuteAsync("XRANGE", (string)_entries!, $"{afterSequence + 1}-0", "+", "COUNT", max))!;
        return result.Select(ToEntry).ToList();
    }

    public async IAsyncEnumerable<StreamEntry> FollowAsync(long afterSequence, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var signal = NewSignal();
        // Subscribed before the first read, so an entry appended in between is announced, not missed.
        await using var subscription = await redis.SubscribeWhileAsync(_notifications, () => signal.TrySetResult());
        var last = afterSequence;
        while (true)
        {
            if (signal.Task.IsCompleted)
            {
                signal = NewSignal(); // re-armed before reading, so a notice during the read wakes the next wait
            }

            var wake = signal.Task;
            var batch = await ReadAsync(last, 500);
            foreach (var entry in batch)
            {
                yield return entry;
                last = entry.Sequence;
                if (entry.IsTerminal)
                {
                    yield break;
                }
            }

            if (batch.Count == 0)
            {
                try
                {
                    await wake.WaitAsync(FallbackPoll, cancellationToken);
                }
                catch (TimeoutException)
                {
                    // No notice within a second: read anyway, in case one was lost.
                }
            }
        }
    }

    private static StreamEntry ToEntry(RedisResult item)
    {
        var parts = (RedisResult[])item!;
        var id = (string)parts[0]!;
        var fields = (RedisValue[])parts[1]!;
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < fields.Length; i += 2)
        {
            values[(string)fields[i]!] = (string)fields[i + 1]!;
        }

        return new StreamEntry(long.Parse(id[..id.IndexOf('-', StringComparison.Ordinal)], CultureInfo.InvariantCulture), Kind(values["k"]), values["d"]);
    }

    private static string Name(StreamEntryKind kind) => kind switch
    {
        StreamEntryKind.Token => "token",
        StreamEntryKind.Completed => "completed",
        _ => "failed",
    };

    private static StreamEntryKind Kind(string name) => name switch
    {
        "token" => StreamEntryKind.Token,
        "completed" => StreamEntryKind.Completed,
        _ => StreamEntryKind.Failed,
    };

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <param name="MaxEntries">Entries kept per stream (the oldest go first).</param>
/// <param name="RetentionSeconds">How long an ended stream stays readable for late and reconnecting subscribers.</param>
/// <param name="AbandonedSeconds">How long a stream lives after its last append if it never ends (its writer died).</param>
public sealed record RedisStreamOptions(int MaxEntries = 100_000, int RetentionSeconds = 600, int AbandonedSeconds = 3600);

public sealed class RedisStreamChannelFactory(RedisConnection redis, RedisStreamOptions options) : IStreamChannelFactory
{
    public IStreamChannel GetChannel(string streamId) => new RedisStreamChannel(streamId, redis, options);
}
