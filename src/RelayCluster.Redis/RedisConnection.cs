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

    public bool IsConnected => _multiplexer.IsConnected;

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

    public async Task<HashEntry[]> HashGetAllAsync(RedisKey key)
    {
        try
        {
            return await _multiplexer.GetDatabase().HashGetAllAsync(key);
        }
        catch (Exception ex) when (ex is RedisConnectionException or RedisTimeoutException or TimeoutException)
        {
            throw new StoreUnavailableException("Redis is unavailable: " + ex.Message, ex);
        }
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

    private static string Resource(string name)
    {
        using var stream = typeof(RedisScript).Assembly.GetManifestResourceStream(name + ".lua")
            ?? throw new InvalidOperationException($"Missing embedded script {name}.lua");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
