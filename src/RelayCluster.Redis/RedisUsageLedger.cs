using RelayCluster.Core.Metering;
using RelayCluster.Core.Metering.Reports;

namespace RelayCluster.Redis;

/// <summary>
/// The cluster's usage totals, as the settle turns keep them (a hash a tenant a month). Records are appended
/// by those turns themselves, in the same atomic step that books the cost, so there is nothing to append here.
/// </summary>
public sealed class RedisUsageLedger(RedisConnection redis) : IUsageReader
{
    /// <summary>One HGETALL of the month's hash, both of its forms added up (see <see cref="RedisUsageFields"/>).</summary>
    public async Task<UsageSummary> GetSummaryAsync(string tenantId, string month) =>
        new RedisUsageHash(await redis.HashGetAllAsync(RedisTenantKeys.Usage(tenantId, month))).Summary(tenantId, month);

    /// <summary>
    /// One HGETALL of the month's hash, read into slices (the <c>u:lane:counter:model</c> fields, and the older
    /// <c>s:…</c> ones). The purge renames a deleted tenant's hash away, so the id's hash is the current tenant's and the
    /// incarnation is not needed.
    /// </summary>
    public async Task<IReadOnlyList<UsageSlice>> GetSlicesAsync(string tenantId, string incarnation, string month) =>
        new RedisUsageHash(await redis.HashGetAllAsync(RedisTenantKeys.Usage(tenantId, month))).Slices();

    /// <summary>
    /// One HGETALL of the month's hash, its <c>d:DD:counter</c> fields (<see cref="RedisDayFields"/>) read into days. Days
    /// of a month begun before the hash kept days read as zeros (the month's totals stay whole in <c>/usage</c>).
    /// </summary>
    public async Task<IReadOnlyList<UsageDay>> GetDaysAsync(string tenantId, string incarnation, string month)
    {
        var counters = new long[UsageDays.MaxDays * UsageDays.Counters];
        foreach (var entry in await redis.HashGetAllAsync(RedisTenantKeys.Usage(tenantId, month)))
        {
            if (RedisDayFields.TryParse(entry.Name!, out var day, out var counter) && entry.Value.TryParse(out long amount))
            {
                counters[(day - 1) * UsageDays.Counters + counter] = amount;
            }
        }

        return UsageDays.Read(month, counters);
    }

    /// <summary>
    /// One XREVRANGE of the tenant's ledger stream (<c>{t:id}:ledger</c>, written by the same commit that books the usage,
    /// capped at about <see cref="RedisTenantJournal.LedgerLength"/> entries): <paramref name="limit"/> + 1 entries, so the
    /// work is bounded by the page, and the key is the tenant's own (the purge renames a deleted tenant's stream away). An
    /// entry holds one commit's records (a field <c>r</c> each, oldest first; one record an entry before issue 16), so each
    /// entry's records are read from its last, newest first as the entries.
    /// </summary>
    public async Task<RecentUsage> GetRecentAsync(string tenantId, string incarnation, int limit)
    {
        var entries = await redis.StreamNewestAsync(RedisTenantKeys.Of(tenantId).Ledger, limit + 1);
        var records = new List<string>(Math.Min(limit, entries.Length));
        foreach (var entry in entries)
        {
            for (var i = entry.Values.Length - 1; i >= 0; i--)
            {
                if (entry.Values[i].Name == "r" && !entry.Values[i].Value.IsNull)
                {
                    if (records.Count == limit)
                    {
                        return new RecentUsage(records, true);
                    }

                    records.Add(entry.Values[i].Value!);
                }
            }
        }

        return new RecentUsage(records, false);
    }
}
