using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using StackExchange.Redis;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Redis;

/// <summary>
/// The one place that talks to StackExchange.Redis (2.x), so an upgrade touches one file. Scripts are loaded
/// once per server and called by SHA; after a Redis restart (NOSCRIPT) a script is loaded again and the call
/// repeated. Connection failures and timeouts surface as <see cref="StoreUnavailableException"/>, so callers
/// fail closed without knowing the client library.
/// </summary>
public sealed class RedisConnection : IAsyncDisposable
{
    private readonly ConnectionMultiplexer _multiplexer;

    private RedisConnection(ConnectionMultiplexer multiplexer) => _multiplexer = multiplexer;

    public static async Task<RedisConnection> ConnectAsync(string configuration)
    {
        var options = ConfigurationOptions.Parse(configuration);
        // Start even while Redis is down and reconnect by itself; until then every turn fails closed.
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 2000;
        options.ConnectRetry = 3;
        // Every command is async (ResponseTimeout is gone in 2.x): one without an answer in 2 s fails closed (503).
        options.AsyncTimeout = 2000;
        // 2.x defaults differ from 1.x in two ways that matter to a relay that fails closed. Commands issued
        // while disconnected would wait in a backlog until their timeout: fail them at once instead, so a turn
        // meeting an outage answers 503 immediately rather than after 2 s. And reconnection would back off
        // exponentially up to 10 s: try again every second, so silos are back within a second or two of Redis.
        options.BacklogPolicy = BacklogPolicy.FailFast;
        options.ReconnectRetryPolicy = new LinearRetry(1000);
        // Replies are completed on the .NET thread pool, where the awaiting request continues anyway, rather than
        // on 2.x's own pool of socket threads: one thread hand-off less per command (measured: bench/run-stores.sh).
        options.SocketManager = SocketManager.ThreadPool;
        return new RedisConnection(await ConnectionMultiplexer.ConnectAsync(options));
    }

    public async Task<RedisResult> EvaluateAsync(RedisScript script, RedisKey[] keys, RedisValue[] args)
    {
        var database = _multiplexer.GetDatabase();
        try
        {
            try
            {
                return await database.ScriptEvaluateAsync(script.Sha, keys, args);
            }
            catch (RedisServerException ex) when (ex.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
            {
                await LoadAsync(script);
                return await database.ScriptEvaluateAsync(script.Sha, keys, args);
            }
        }
        catch (Exception ex) when (ex is RedisConnectionException or RedisTimeoutException or TimeoutException)
        {
            throw new StoreUnavailableException("Redis is unavailable: " + ex.Message, ex);
        }
    }

    public Task<HashEntry[]> HashGetAllAsync(RedisKey key) => Guard(db => db.HashGetAllAsync(key));

    private async Task<T> Guard<T>(Func<IDatabase, Task<T>> command)
    {
        try
        {
            return await command(_multiplexer.GetDatabase());
        }
        catch (Exception ex) when (ex is RedisConnectionException or RedisTimeoutException or TimeoutException)
        {
            throw new StoreUnavailableException("Redis is unavailable: " + ex.Message, ex);
        }
    }

    /// <summary>XREVRANGE key + - COUNT count: the newest entries of a stream first, at most <paramref name="count"/>.</summary>
    public Task<StreamEntry[]> StreamNewestAsync(RedisKey key, int count) =>
        Guard(db => db.StreamRangeAsync(key, "-", "+", count, Order.Descending));

    public Task<RedisValue> HashGetAsync(RedisKey key, RedisValue field) => Guard(db => db.HashGetAsync(key, field));

    public Task<RedisValue[]> SetMembersAsync(RedisKey key) => Guard(db => db.SetMembersAsync(key));

    /// <summary>
    /// Calls <paramref name="onMessage"/> for every message on <paramref name="channel"/>, and also after a
    /// reconnection: pub/sub delivers at most once, so whatever was published while the connection was down
    /// is lost, and the subscriber must assume it missed something.
    /// </summary>
    public async Task SubscribeAsync(string channel, Action onMessage)
    {
        _multiplexer.ConnectionRestored += (_, _) => onMessage();
        await SubscribeOnceConnectedAsync(_multiplexer.GetSubscriber(), RedisChannel.Literal(channel), (_, _) => onMessage());
    }

    /// <summary>How long a subscription waits for its connection before the error stands: past the client's reconnection
    /// interval (1 s) a few times over.</summary>
    private static readonly TimeSpan SubscribeWait = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A subscription is made at start-up, and a silo cannot run without it; but with <see cref="BacklogPolicy.FailFast"/>
    /// a SUBSCRIBE fails at once while the subscription connection is not up, which it may not be yet when the interactive
    /// one is (seen in CI under load: "No connection is active/available to service this operation: SUBSCRIBE"), or during
    /// a blip. So it is asked again every 100 ms until the connection is back, for at most <see cref="SubscribeWait"/>.
    /// </summary>
    private static async Task SubscribeOnceConnectedAsync(ISubscriber subscriber, RedisChannel channel, Action<RedisChannel, RedisValue> handler)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await subscriber.SubscribeAsync(channel, handler);
                return;
            }
            catch (RedisConnectionException) when (waited.Elapsed < SubscribeWait)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100));
            }
        }
    }

    /// <summary>Publishes a notice on a channel (its subscribers only need to know that something changed).</summary>
    public Task<long> PublishAsync(string channel, RedisValue message) =>
        Guard(_ => _multiplexer.GetSubscriber().PublishAsync(RedisChannel.Literal(channel), message));

    /// <summary>Any command the typed methods here do not cover (SCAN pages, sorted-set ranks, renames).</summary>
    public Task<RedisResult> ExecuteAsync(string command, params object[] args) => Guard(db => db.ExecuteAsync(command, args));

    /// <summary>Calls <paramref name="onMessage"/> for each message on the channel until the result is disposed.</summary>
    public async Task<IAsyncDisposable> SubscribeWhileAsync(string channel, Action onMessage)
    {
        var subscriber = _multiplexer.GetSubscriber();
        var literal = RedisChannel.Literal(channel);
        Action<RedisChannel, RedisValue> handler = (_, _) => onMessage();
        await SubscribeOnceConnectedAsync(subscriber, literal, handler);
        return new Subscription(() => subscriber.UnsubscribeAsync(literal, handler));
    }

    /// <summary>Round trip to Redis; false if it does not answer (for readiness).</summary>
    public async Task<bool> PingAsync()
    {
        try
        {
            await _multiplexer.GetDatabase().PingAsync();
            return true;
        }
        catch (Exception ex) when (ex is RedisConnectionException or RedisTimeoutException or TimeoutException)
        {
            return false;
        }
    }

    public ValueTask DisposeAsync()
    {
        _multiplexer.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task LoadAsync(RedisScript script)
    {
        foreach (var endpoint in _multiplexer.GetEndPoints())
        {
            var server = _multiplexer.GetServer(endpoint);
            if (server.IsConnected && !server.IsReplica)
            {
                await server.ScriptLoadAsync(script.Text);
            }
        }
    }
}

internal sealed class Subscription(Func<Task> unsubscribe) : IAsyncDisposable
{
    public async ValueTask DisposeAsync() => await unsubscribe();
}

/// <summary>A Lua script and its SHA-1, the name Redis calls it by.</summary>
public sealed class RedisScript
{
    public RedisScript(string text)
    {
        Text = text;
#pragma warning disable CA5350 // SHA-1 is how Redis names scripts (EVALSHA), not a security measure.
        Sha = SHA1.HashData(Encoding.UTF8.GetBytes(text));
#pragma warning restore CA5350
    }

    public string Text { get; }

    public byte[] Sha { get; }

    /// <summary>A script on its own, from embedded resources.</summary>
    public static RedisScript Named(string name) => new(Resource(name));

    private static string Resource(string name)
    {
        using var stream = typeof(RedisScript).Assembly.GetManifestResourceStream(name + ".lua")
            ?? throw new InvalidOperationException($"Missing embedded script {name}.lua");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
