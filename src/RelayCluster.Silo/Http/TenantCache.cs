using System.Collections.Concurrent;
using RelayCluster.Core.Auth;
using RelayCluster.Core.Routing;

namespace RelayCluster.Silo.Http;

/// <summary>
/// Resolves a presented key to its tenant on the hot path without a store round trip. Entries are dropped
/// whenever any silo changes the directory (pub/sub in the cluster: a revoked key stops working everywhere
/// at once), and after a short lifetime as a safety net against a change announced while this silo was
/// disconnected. Unknown keys are cached too, so a flood of bad keys does not become a flood of lookups.
/// A lookup that read the store before a change must not cache its answer after the change cleared the
/// cache: each clear moves a generation on, and an answer is kept only if the generation did not move.
/// </summary>
internal sealed class TenantCache
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(30);

    private readonly ITenantDirectory _directory;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, (Tenant? Tenant, long Expires)> _byKeyHash = new(StringComparer.Ordinal);
    private long _generation;

    public TenantCache(ITenantDirectory directory, TimeProvider time)
    {
        _directory = directory;
        _time = time;
        directory.Changed += () =>
        {
            Interlocked.Increment(ref _generation);
            _byKeyHash.Clear();
        };
    }

    public async ValueTask<Tenant?> FindByKeyAsync(string key)
    {
        var hash = ApiKeyHash.Of(key);
        var now = _time.GetTimestamp();
        if (_byKeyHash.TryGetValue(hash, out var cached) && cached.Expires > now)
        {
            return cached.Tenant;
        }

        var generation = Interlocked.Read(ref _generation);
        var tenantId = await _directory.FindTenantIdAsync(hash);
        var entry = tenantId is null ? null : await _directory.GetAsync(tenantId);
        var tenant = entry is null ? null : new Tenant(entry.Id, new ModelPatterns(entry.Models)) { Incarnation = entry.Incarnation };
        _byKeyHash[hash] = (tenant, now + (long)(Lifetime.TotalSeconds * TimeProvider.System.TimestampFrequency));
        if (Interlocked.Read(ref _generation) != generation)
        {
            // A change arrived while this lookup was reading: its answer may predate the change.
            _byKeyHash.TryRemove(hash, out _);
        }

        return tenant;
    }
}
