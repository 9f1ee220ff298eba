using System.Diagnostics;
using RelayCluster.Core.Tenants;
using RelayCluster.Redis;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Tenants;

/// <summary>
/// What the store relies on from the Redis client across an outage, checked on the connection itself (the
/// client's defaults changed between versions): a command meeting an outage fails at once rather than waiting
/// in a backlog, the client reconnects by itself, scripts come back after the restart emptied the script cache,
/// and subscriptions are re-established and announce the reconnection.
/// </summary>
public sealed class RedisConnectionTests : IAsyncLifetime
{
    private readonly RedisServer _redis = new();

    public Task InitializeAsync() => _redis.InitializeAsync();

    public Task DisposeAsync() => _redis.DisposeAsync();

    [Fact]
    public async Task An_outage_fails_commands_at_once_and_the_connection_scripts_and_subscriptions_come_back()
    {
        var connection = _redis.Connection;
        var script = new RedisScript("return ARGV[1] + 1");
        Assert.Equal(42, (long)await connection.EvaluateAsync(script, [], [41]));
        var notices = new Notices();
        await connection.SubscribeAsync("test:changes", notices.Add);
        await connection.PublishAsync("test:changes", 1);
        await notices.WaitForAsync(1);

        _redis.Kill();
        // Once the client knows the server is gone, a command must not wait in a backlog for its 2 s timeout.
        Assert.False(await Eventually.WaitAsync(connection.PingAsync, up => !up, TimeSpan.FromSeconds(10)), "still connected");
        var clock = Stopwatch.StartNew();
        await Assert.ThrowsAsync<StoreUnavailableException>(() => connection.EvaluateAsync(script, [], [1]));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"a command meeting the outage took {clock.Elapsed}");

        await _redis.RestartAsync();
        clock.Restart();
        Assert.True(await Eventually.WaitAsync(connection.PingAsync, up => up, TimeSpan.FromSeconds(15)), "no reconnection");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"reconnecting took {clock.Elapsed}");

        // The restarted server has no scripts: NOSCRIPT, loaded again, repeated.
        Assert.Equal(8, (long)await connection.EvaluateAsync(script, [], [7]));
        // The reconnection itself is a notice (what was published meanwhile is lost), then notices flow again.
        await notices.WaitForAsync(2);
        var before = notices.Count;
        var receivers = await Eventually.WaitAsync(() => connection.PublishAsync("test:changes", 1), n => n >= 1, TimeSpan.FromSeconds(10));
        Assert.Equal(1, receivers); // PUBLISH counts subscribers: ours was subscribed again
        await notices.WaitForAsync(before + 1);
    }

    [Fact]
    public async Task A_subscription_asked_for_while_its_connection_is_down_is_made_once_it_is_back()
    {
        var connection = _redis.Connection;
        _redis.Kill();
        var notices = new Notices();
        var subscribing = connection.SubscribeAsync("test:late", notices.Add); // failed at once before: FailFast
        await _redis.StartAgainAsync();
        await subscribing;

        var before = notices.Count;
        await connection.PublishAsync("test:late", 1);
        await notices.WaitForAsync(before + 1);
    }

    private sealed class Notices
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public void Add() => Interlocked.Increment(ref _count);

        public async Task WaitForAsync(int count)
        {
            var reached = await Eventually.WaitAsync(() => Task.FromResult(Count), c => c >= count, TimeSpan.FromSeconds(10));
            Assert.True(reached >= count, $"{reached} notices, expected {count}");
        }
    }
}
