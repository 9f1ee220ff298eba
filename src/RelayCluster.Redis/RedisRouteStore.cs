using StackExchange.Redis;
using RelayCluster.Core.Routing;

namespace RelayCluster.Redis;

/// <summary>
/// The cluster's routes: one hash under the <c>{relay}</c> hash tag (model → route JSON, small and rarely
/// written). Each write is one script that also publishes on <c>relay:routes</c>, so every silo reloads its
/// route table at once; a silo that reconnects reloads too, since pub/sub drops what it missed.
/// </summary>
public sealed class RedisRouteStore : IRouteStore
{
    public const string ChangesChannel = "relay:routes";

    private static readonly RedisKey Routes = "{relay}:routes";
    private static readonly RedisScript Seed = new(
        "if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then redis.call('PUBLISH', '" + ChangesChannel + "', ARGV[1]) return 1 end return 0");
    private static readonly RedisScript Set = new(
        "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) redis.call('PUBLISH', '" + ChangesChannel + "', ARGV[1]) return 1");
    private static readonly RedisScript Delete = new(
        "if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then redis.call('PUBLISH', '" + ChangesChannel + "', ARGV[1]) return 1 end return 0");

    private readonly RedisConnection _redis;

    private RedisRouteStore(RedisConnection redis) => _redis = redis;

    public event Action? Changed;

    public static async Task<RedisRouteStore> StartAsync(RedisConnection redis)
    {
        var store = new RedisRouteStore(redis);
        await redis.SubscribeAsync(ChangesChannel, () => store.Changed?.Invoke());
        return store;
    }

    public async Task<IReadOnlyDictionary<string, string>> LoadAllAsync() =>
        (await _redis.HashGetAllAsync(Routes)).ToDictionary(e => (string)e.Name!, e => (string)e.Value!, StringComparer.Ordinal);

    public async Task<bool> SeedAsync(string model, string json) => (long)await _redis.EvaluateAsync(Seed, [Routes], [model, json]) == 1;

    public Task SetAsync(string model, string json) => _redis.EvaluateAsync(Set, [Routes], [model, json]);

    public async Task<bool> DeleteAsync(string model) => (long)await _redis.EvaluateAsync(Delete, [Routes], [model]) == 1;
}
