using System.Text.Json;
using System.Text.Json.Nodes;
using RelayCluster.Core.Streams;
using RelayCluster.Redis;
using StackExchange.Redis;

namespace RelayCluster.Silo.Hosting;

/// <summary>Where the cluster's subscribe-token keys live, and how they are rotated.</summary>
internal interface ITokenSecretStore
{
    /// <summary>The keys every silo shares, created (randomly) by whichever silo asks first.</summary>
    Task<TokenSecrets> LoadAsync();

    /// <summary>A new random current key, the old current kept as previous; null if rotation is by configuration.</summary>
    Task<TokenSecrets?> RotateAsync();

    /// <summary>Registers a callback run when another silo rotated the keys (or may have: after a reconnection).</summary>
    Task WatchAsync(Action changed);
}

/// <summary>Keys from <c>Relay:Streams:TokenSecret</c>/<c>PreviousTokenSecret</c>: rotated by changing the configuration.</summary>
internal sealed class ConfiguredTokenSecrets(TokenSecrets secrets) : ITokenSecretStore
{
    public Task<TokenSecrets> LoadAsync() => Task.FromResult(secrets);

    public Task<TokenSecrets?> RotateAsync() => Task.FromResult<TokenSecrets?>(null);

    public Task WatchAsync(Action changed) => Task.CompletedTask;
}

/// <summary>
/// The embedded silo's keys, in a file beside its usage log (<c>stream-token-secrets.json</c>, owner-only), so tokens
/// survive a restart. One process owns the file; a rotation rewrites it whole (temporary file, then rename).
/// </summary>
internal sealed class FileTokenSecrets(string directory) : ITokenSecretStore
{
    private readonly SemaphoreSlim _lock = new(1, 1);

    public string Path { get; } = System.IO.Path.Combine(directory, "stream-token-secrets.json");

    public async Task<TokenSecrets> LoadAsync()
    {
        await _lock.WaitAsync();
        try
        {
            return await LoadOrCreateAsync();
        }
        finally
        {
            _lock.Release();
        }
    }

    public async Task<TokenSecrets?> RotateAsync()
    {
        // Read and rewrite under one lock, so two rotations at once cannot both start from the same keys.
        await _lock.WaitAsync();
        try
        {
            var rotated = (await LoadOrCreateAsync()).Rotate(TokenSecrets.NewKey());
            Write(rotated);
            return rotated;
        }
        finally
        {
            _lock.Release();
        }
    }

    public Task WatchAsync(Action changed) => Task.CompletedTask;

    private async Task<TokenSecrets> LoadOrCreateAsync()
    {
        if (File.Exists(Path))
        {
            var stored = JsonNode.Parse(await File.ReadAllTextAsync(Path)) ?? throw new InvalidDataException($"{Path} is empty.");
            var previous = (string?)stored["previous"];
            return new TokenSecrets(Convert.FromBase64String((string)stored["current"]!), previous is null ? null : Convert.FromBase64String(previous));
        }

        var created = new TokenSecrets(TokenSecrets.NewKey(), null);
        Write(created);
        return created;
    }

    private void Write(TokenSecrets secrets)
    {
        var json = new JsonObject { ["current"] = Convert.ToBase64String(secrets.Current) };
        if (secrets.Previous is { } previous)
        {
            json["previous"] = Convert.ToBase64String(previous);
        }

        Core.PrivateFile.Replace(Path, json.ToJsonString());
    }
}

/// <summary>
/// The cluster's keys in Redis (<c>{relay}:stream-token-secrets</c>, a hash of base64 <c>current</c> and
/// <c>previous</c>). The first silo to start creates the key with HSETNX, so every silo agrees; a rotation is one
/// script that shifts current to previous and announces it on <c>relay:stream-tokens</c>.
/// </summary>
internal sealed class RedisTokenSecrets(RedisConnection redis) : ITokenSecretStore
{
    private const string Channel = "relay:stream-tokens";
    private static readonly RedisKey Key = "{relay}:stream-token-secrets";

    private static readonly RedisScript Load = new("""
        redis.call('HSETNX', KEYS[1], 'current', ARGV[1])
        return redis.call('HMGET', KEYS[1], 'current', 'previous')
        """);

    private static readonly RedisScript Rotate = new("""
        local current = redis.call('HGET', KEYS[1], 'current')
        if current then redis.call('HSET', KEYS[1], 'previous', current) end
        redis.call('HSET', KEYS[1], 'current', ARGV[1])
        redis.call('PUBLISH', ARGV[2], '1')
        return redis.call('HMGET', KEYS[1], 'current', 'previous')
        """);

    public async Task<TokenSecrets> LoadAsync() =>
        Parse(await redis.EvaluateAsync(Load, [Key], [Convert.ToBase64String(TokenSecrets.NewKey())]));

    public async Task<TokenSecrets?> RotateAsync() =>
        Parse(await redis.EvaluateAsync(Rotate, [Key], [Convert.ToBase64String(TokenSecrets.NewKey()), Channel]));

    public Task WatchAsync(Action changed) => redis.SubscribeAsync(Channel, changed);

    private static TokenSecrets Parse(RedisResult result)
    {
        var values = (RedisValue[])result!;
        return new TokenSecrets(Convert.FromBase64String(values[0]!), values[1].IsNull ? null : Convert.FromBase64String(values[1]!));
    }
}
