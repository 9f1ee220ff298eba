using System.Collections.Concurrent;
using RelayCluster.Core.Auth;
using RelayCluster.Core.Routing;

namespace RelayCluster.Silo.Http;

/// <summary>
/// Resolves a presented key to its tenant on the hot path without a store round trip. Entries are dropped
/// whenever any silo changes the directory (pub/sub in the cluster: a revoked key stops working everywhere
/// at once), and after a short lifetime as a safety net against a change announced while this silo was
/// disconnected. Known keys are bounded by the number of keys that exist. Unknown keys are cached too, so a
/// flood of one bad key does not become a flood of lookups, but only the most recent <see cref="MaxMisses"/>
/// of them: anyone can invent keys, so a cache of every miss would grow without bound.
/// A lookup that read the store before a change must not cache its answer after the change cleared the
/// cache: each clear moves a generation on, and an answer is kept only if the generation did not move.
/// </summary>
internal sealed class TenantCache
{
    /// <summary>Unknown keys remembered at most; the oldest is forgotten first.</summary>
    public const int MaxMisses = 4096;

    private static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(30);

    private readonly ITenantDirectory _directory;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, (Tenant Tenant, long Expires)> _known = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _misses = new(StringComparer.Ordinal);

    // Insertion order of the misses, for eviction; may hold hashes already gone from _misses (cleared or replaced).
    private readonly ConcurrentQueue<string> _missOrder = new();
    private long _generation;

    public TenantCache(ITenantDirectory directory, TimeProvider time)
    {
        _directory = directory;
        _time = time;
        directory.Changed += () =>
        {
            Interlocked.Increment(ref _generation);
            _known.Clear();
            _misses.Clear();
            _missOrder.Clear();
        };
    }

    /// <summary>Cached entries now (known and unknown keys), for tests and diagnostics.</summary>
    internal int Count => _known.Count + _misses.Count;

    /// <summary>The key's tenant, or null for a key no tenant holds.</summary>
    public ValueTask<Tenant?> FindByKeyAsync(string key)
    {
        // A cached key (every request but a tenant's first in a while) is found by its hash in a stack buffer:
        // no hash string, no async state machine.
        Span<char> hash = stackalloc char[ApiKeyHash.Length];
        ApiKeyHash.Write(key, hash);
        var now = _time.GetTimestamp();
        if (_known.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(hash, out var cached) && cached.Expires > now)
        {
            return ValueTask.FromResult<Tenant?>(cached.Tenant);
        }

        if (_misses.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(hash, out var missExpires) && missExpires > now)
        {
            return ValueTask.FromResult<Tenant?>(null);
        }

        return LookUpAsync(hash.ToString(), now);
    }

    /// <summary>A key not cached (or expired): read from the directory, and cached unless a change came meanwhile.</summary>
    private async ValueTask<Tenant?> LookUpAsync(string hash, long now)
    {
        var generation = Interlocked.Read(ref _generation);
        var tenantId = await _directory.FindTenantIdAsync(hash);
        var entry = tenantId is null ? null : await _directory.GetAsync(tenantId);
        var tenant = entry is null ? null : new Tenant(entry.Id, new ModelPatterns(entry.Models)) { Incarnation = entry.Incarnation };
        var expires = now + (long)(Lifetime.TotalSeconds * _time.TimestampFrequency);
        if (tenant is null)
        {
            RememberMiss(hash, expires);
        }
        else
        {
            _misses.TryRemove(hash, out _);
            _known[hash] = (tenant, expires);
        }

        if (Interlocked.Read(ref _generation) != generation)
        {
            // A change arrived while this lookup was reading: its answer may predate the change.
            _known.TryRemove(hash, out _);
            _misses.TryRemove(hash, out _);
        }

        return tenant;
    }

    private void RememberMiss(string hash, long expires)
    {
        if (_misses.TryAdd(hash, expires))
        {
            _missOrder.Enqueue(hash);
        }
        else
        {
            _misses[hash] = expires;
        }

        // Concurrent callers may each evict one; the count can overshoot only by the number of callers in flight.
        // The order queue is bounded too: hashes dropped from the map some other way leave stale entries in it.
        while ((_misses.Count > MaxMisses || _missOrder.Count > 2 * MaxMisses) && _missOrder.TryDequeue(out var oldest))
        {
            _misses.TryRemove(oldest, out _);
        }
    }
}
