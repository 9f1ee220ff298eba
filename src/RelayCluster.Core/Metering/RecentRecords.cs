using System.Collections.Concurrent;
using System.Text.Json;

namespace RelayCluster.Core.Metering;

/// <summary>
/// The embedded store's latest usage records of each tenant (incarnation), for <c>GET /admin/tenants/{id}/requests</c>:
/// a ring of the last <see cref="Capacity"/> records a tenant, filled as records are appended and, at start, from the
/// current month's log as it is read back. A read copies at most <see cref="Capacity"/> references, whatever the log's
/// size. Memory: the records themselves (about 0.4 KB each), so about 80 KB per tenant with traffic.
/// </summary>
internal sealed class RecentRecords
{
    /// <summary>The largest page the admin API serves.</summary>
    public const int Capacity = 200;

    private readonly ConcurrentDictionary<(string Tenant, string Incarnation), Ring> _rings = new();

    public void Add(UsageRecord record) =>
        _rings.GetOrAdd((record.Tenant, record.Incarnation ?? ""), _ => new Ring()).Add(record);

    /// <summary>The latest <paramref name="limit"/> records, newest first, as the log writes them, and whether older ones exist.</summary>
    public RecentUsage Latest(string tenant, string incarnation, int limit)
    {
        if (!_rings.TryGetValue((tenant, incarnation), out var ring))
        {
            return new RecentUsage([], false);
        }

        var (records, seen) = ring.Latest(Math.Clamp(limit, 0, Capacity));
        return new RecentUsage([.. records.Select(r => JsonSerializer.Serialize(r, UsageJsonContext.Default.UsageRecord))], seen > records.Length);
    }

    private sealed class Ring
    {
        private readonly Lock _gate = new();
        private readonly UsageRecord[] _records = new UsageRecord[Capacity];
        private long _seen; // records ever added: the next one goes to _seen % Capacity

        public void Add(UsageRecord record)
        {
            lock (_gate)
            {
                _records[_seen % Capacity] = record;
                _seen++;
            }
        }

        public (UsageRecord[] Records, long Seen) Latest(int limit)
        {
            lock (_gate)
            {
                var count = (int)Math.Min(limit, Math.Min(_seen, Capacity));
                var page = new UsageRecord[count];
                for (var i = 0; i < count; i++)
                {
                    page[i] = _records[(_seen - 1 - i) % Capacity];
                }

                return (page, _seen);
            }
        }
    }
}
