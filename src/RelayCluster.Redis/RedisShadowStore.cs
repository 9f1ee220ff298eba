using System.Globalization;
using StackExchange.Redis;
using RelayCluster.Core.Routing;

namespace RelayCluster.Redis;

/// <summary>
/// Shadow comparisons of the whole cluster: per route a capped list of recent comparisons and a hash of totals,
/// both under the route's own hash tag (<c>{shadow:model}</c>), written together by one script.
/// </summary>
public sealed class RedisShadowStore(RedisConnection redis) : IShadowStore
{
    private static readonly RedisScript Record = new("""
        if ARGV[1] ~= '' then
          redis.call('LPUSH', KEYS[1], ARGV[1])
          redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
        end
        local fields = {'compared', 'dropped', 'exact_matches', 'status_matches', 'shadow_failures'}
        for i, field in ipairs(fields) do
          if ARGV[2 + i] ~= '0' then redis.call('HINCRBY', KEYS[2], field, ARGV[2 + i]) end
        end
        local sums = {'similarity_sum', 'primary_latency_sum_ms', 'shadow_latency_sum_ms'}
        for i, field in ipairs(sums) do
          if ARGV[7 + i] ~= '0' then redis.call('HINCRBYFLOAT', KEYS[2], field, ARGV[7 + i]) end
        end
        return 1
        """);

    public string Scope => "cluster";

    public async Task RecordAsync(string route, string comparisonJson, ShadowTotals d, int window)
    {
        var (recent, totals) = Keys(route);
        await redis.EvaluateAsync(Record, [recent, totals],
        [
            comparisonJson, window, d.Compared, d.Dropped, d.ExactMatches, d.StatusMatches, d.ShadowFailures,
            Number(d.SimilaritySum), Number(d.PrimaryLatencySumMs), Number(d.ShadowLatencySumMs),
        ]);
    }

    public async Task<(ShadowTotals Totals, IReadOnlyList<string> Recent)> ReadAsync(string route)
    {
        var (recentKey, totalsKey) = Keys(route);
        var recent = (RedisValue[])(await redis.ExecuteAsync("LRANGE", (string)recentKey!, 0, -1))!;
        var f = (await redis.HashGetAllAsync(totalsKey)).ToDictionary(e => (string)e.Name!, e => (string)e.Value!, StringComparer.Ordinal);
        long L(string name) => f.TryGetValue(name, out var v) ? long.Parse(v, CultureInfo.InvariantCulture) : 0;
        double D(string name) => f.TryGetValue(name, out var v) ? double.Parse(v, CultureInfo.InvariantCulture) : 0;
        var totals = new ShadowTotals(L("compared"), L("dropped"), L("exact_matches"), L("status_matches"), L("shadow_failures"),
            D("similarity_sum"), D("primary_latency_sum_ms"), D("shadow_latency_sum_ms"));
        return (totals, [.. recent.Select(v => (string)v!)]);
    }

    private static (RedisKey Recent, RedisKey Totals) Keys(string route) => ("{shadow:" + route + "}:recent", "{shadow:" + route + "}:totals");

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
