using RelayCluster.Core.Streams;
using RelayCluster.Redis;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Streams;

public sealed class MemoryStreamChannelTests : StreamChannelContract
{
    protected override ChannelPair Channel(StreamSettings? settings = null, string? streamId = null)
    {
        var factory = new MemoryStreamChannelFactory(TimeSpan.FromMinutes(10), TimeProvider.System, settings);
        var channel = factory.GetChannel(streamId ?? Guid.NewGuid().ToString("N"));
        return new ChannelPair(channel, channel, factory.Followers);
    }
}

[Collection(RedisCollection.Name)]
public sealed class RedisStreamChannelTests(RedisServer redis) : StreamChannelContract
{
    protected override ChannelPair Channel(StreamSettings? settings = null, string? streamId = null)
    {
        var id = streamId ?? Guid.NewGuid().ToString("N");
        settings ??= new StreamSettings();
        // The writer's silo and the reader's silo: separate followers, one Redis.
        var writer = new RedisStreamChannelFactory(redis.Connection, new RedisStreamOptions(settings.MaxEntries), new StreamFollowers(settings, TimeProvider.System));
        var reader = new RedisStreamChannelFactory(redis.Connection, new RedisStreamOptions(settings.MaxEntries), new StreamFollowers(settings, TimeProvider.System));
        return new ChannelPair(writer.GetChannel(id), reader.GetChannel(id), reader.Followers);
    }

    [Fact]
    public async Task A_silos_followers_of_one_stream_hold_one_subscription_released_with_the_last()
    {
        var id = Guid.NewGuid().ToString("N");
        var (writer, reader) = Channel(streamId: id);
        await writer.AppendAsync(StreamEntryKind.Token, "t1");
        using var cancel = new CancellationTokenSource();
        var followers = Enumerable.Range(0, 10).Select(_ => FirstThenRest(reader.FollowAsync(0, cancel.Token))).ToList();
        foreach (var follower in followers)
        {
            await follower.First.WaitAsync(TimeSpan.FromSeconds(10));
        }

        Assert.Equal(1, await SubscribersAsync(id));
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Task.WhenAll(followers.Select(f => f.All)).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(0, await Eventually.WaitAsync(() => SubscribersAsync(id), n => n == 0, TimeSpan.FromSeconds(10)));
    }

    private async Task<long> SubscribersAsync(string streamId)
    {
        var reply = (StackExchange.Redis.RedisResult[])(await redis.Connection.ExecuteAsync("PUBSUB", "NUMSUB", "relay:stream:" + streamId))!;
        return (long)reply[1];
    }

    /// <summary>Completes <c>First</c> at the follower's first entry; <c>All</c> runs it to its end.</summary>
    private static (Task First, Task All) FirstThenRest(IAsyncEnumerable<StreamEntry> entries)
    {
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task RunAsync()
        {
            await foreach (var _ in entries)
            {
                first.TrySetResult();
            }
        }

        return (first.Task, RunAsync());
    }
}
