using System.Security.Cryptography;
using System.Text;
using StackExchange.Redis;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Redis;

/// <summary>
/// The one place that talks to StackExchange.Redis (1.2.6, the only version that restores here), so an
/// upgrade touches one file. Scripts are loaded once per server and called by SHA; after a Redis restart
/// (NOSCRIPT) a script is loaded again and the call repeated. Connection failures and timeouts surface as
/// <see cref="StoreUnavailableException"/>, so callers fail closed without knowing the client library.
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
        options.SyncTimeout = 2000;
        options.ResponseTimeout = 2000;
        options.ConnectRetry = 3;
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
        await _multiplexer.GetSubscriber().SubscribeAsync(channel, (_, _) => onMessage());
    }

    /// <summary>Any command, for those the 1.2.6 client has no method for (streams: XRANGE).</summary>
    public Task<RedisResult> ExecuteAsync(string command, params object[] args) => Guard(db => db.ExecuteAsync(command, args));

    /// <summary>Calls <paramref name="onMessage"/> for each message on the channel until the result is disposed.</summary>
    public async Task<IAsyncDisposable> SubscribeWhileAsync(string channel, Action onMessage)
    {
        var subscriber = _multiplexer.GetSubscriber();
        Action<RedisChannel, RedisValue> handler = (_, _) => onMessage();
        await subscriber.SubscribeAsync(channel, handler);
        return new Subscription(() => subscriber.UnsubscribeAsync(channel, handler));
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
            if (server.IsConnected && !server.IsSlave)
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

    /// <summary>A tenant turn: the shared prelude followed by the named script, from embedded resources.</summary>
    public static RedisScript TenantTurn(string name) => new(Resource("prelude") + "\n" + Resource(name));

    /// <summary>
    /// A tenant turn that may settle or release a request as part of a larger change: those turns become the
    /// local functions <c>settle()</c> and <c>release()</c> the named script calls (their arguments stay ARGV 4–14).
    /// </summary>
    public static RedisScript TenantTurnWithSettle(string name) => new(
        Resource("prelude") + "\nlocal function settle()\n" + Resource("settle") + "\nend\nlocal function release()\n" + Resource("release")
        + "\nend\n" + Resource(name));

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
