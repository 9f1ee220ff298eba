using System.Collections.Concurrent;
using StackExchange.Redis;

namespace RelayCluster.Redis;

/// <summary>The keys of one tenant's state; every one carries the tenant's hash tag <c>{t:id}</c>.</summary>
internal readonly record struct RedisTenantKeys(RedisKey Epoch, RedisKey State, RedisKey Requests, RedisKey Tokens, RedisKey Reservations,
    RedisKey Reclaimed, RedisKey Ledger)
{
    // Commits run on the hot path: a tenant's key names are built once, not per commit. Bounded: beyond the cap (more
    // tenants committing than that) keys are built per commit as before.
    private const int CacheCap = 10_000;
    private static readonly ConcurrentDictionary<string, RedisCommitKeys> Cache = new(StringComparer.Ordinal);

    public static RedisKey Tag(string tenantId) => "{t:" + tenantId + "}";

    public static RedisTenantKeys Of(string tenantId)
    {
        var tag = "{t:" + tenantId + "}";
        return new(tag + ":epoch", tag + ":state", tag + ":rq", tag + ":tk", tag + ":res", tag + ":rc", tag + ":ledger");
    }

    public static RedisKey Usage(string tenantId, string month) => "{t:" + tenantId + "}:usage:" + month;

    /// <summary>The tenant's keys in the order <c>tenant-commit.lua</c> takes them, cached.</summary>
    public static RedisCommitKeys Cached(string tenantId)
    {
        if (Cache.TryGetValue(tenantId, out var keys))
        {
            return keys;
        }

        keys = new RedisCommitKeys(tenantId);
        return Cache.Count < CacheCap ? Cache.GetOrAdd(tenantId, keys) : keys;
    }
}

/// <summary>
/// A tenant's keys as a commit passes them: the seven of its state, then one usage hash per month the commit books. The
/// arrays are shared by concurrent calls and never written after they are built (the client library only reads them).
/// </summary>
internal sealed class RedisCommitKeys
{
    private readonly string _tenantId;
    private readonly RedisKey[] _state;
    private MonthKeys? _lastMonth; // replaced whole (a reference), so a reader sees one month's pair or another's

    public RedisCommitKeys(string tenantId)
    {
        _tenantId = tenantId;
        var keys = RedisTenantKeys.Of(tenantId);
        _state = [keys.Epoch, keys.State, keys.Requests, keys.Tokens, keys.Reservations, keys.Reclaimed, keys.Ledger];
    }

    /// <summary>The keys of a commit booking <paramref name="months"/> (in that order); the common one-month array is kept.</summary>
    public RedisKey[] For(List<(string Month, Dictionary<string, long> Totals)> months)
    {
        if (months.Count == 0)
        {
            return _state;
        }

        if (months.Count == 1)
        {
            if (_lastMonth is { } last && string.Equals(last.Month, months[0].Month, StringComparison.Ordinal))
            {
                return last.Keys;
            }

            RedisKey[] one = [.. _state, RedisTenantKeys.Usage(_tenantId, months[0].Month)];
            _lastMonth = new MonthKeys(months[0].Month, one);
            return one;
        }

        var keys = new RedisKey[_state.Length + months.Count];
        _state.CopyTo(keys, 0);
        for (var i = 0; i < months.Count; i++)
        {
            keys[_state.Length + i] = RedisTenantKeys.Usage(_tenantId, months[i].Month);
        }

        return keys;
    }

    private sealed record MonthKeys(string Month, RedisKey[] Keys);
}
