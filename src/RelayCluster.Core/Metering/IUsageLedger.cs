using RelayCluster.Core.Metering.Reports;

namespace RelayCluster.Core.Metering;

/// <summary>Reads a tenant's usage totals for a month, whichever store keeps them.</summary>
public interface IUsageReader
{
    Task<UsageSummary> GetSummaryAsync(string tenantId, string month);

    /// <summary>
    /// The usage of one incarnation of the tenant id (see <see cref="UsageRecord.Incarnation"/>), so a tenant created
    /// again is never shown a deleted one's usage. A store that sets the old totals aside at the purge (Redis) needs
    /// no incarnation and answers for the id.
    /// </summary>
    Task<UsageSummary> GetSummaryAsync(string tenantId, string incarnation, string month) => GetSummaryAsync(tenantId, month);

    /// <summary>
    /// The tenant's month per model × lane (<see cref="UsageSlice"/>), from the totals kept as usage is booked: a read of
    /// one aggregate (embedded) or one hash (Redis), whatever the number of records. Empty when the month has no usage.
    /// Incarnations as in <see cref="GetSummaryAsync(string, string, string)"/>.
    /// </summary>
    Task<IReadOnlyList<UsageSlice>> GetSlicesAsync(string tenantId, string incarnation, string month);

    /// <summary>
    /// Every day of the month (<see cref="UsageDays"/>), zeros included, from the per-day counters kept as usage is booked
    /// (never a scan of the records). Incarnations as in <see cref="GetSummaryAsync(string, string, string)"/>.
    /// </summary>
    Task<IReadOnlyList<UsageDay>> GetDaysAsync(string tenantId, string incarnation, string month);

    /// <summary>
    /// The tenant's latest usage records, newest first, each as the ledger's own JSON (a <see cref="UsageRecord"/> as
    /// <see cref="UsageJsonContext"/> writes it), at most <paramref name="limit"/>, and whether older ones exist. Bounded
    /// work whatever the ledger's size. Incarnations as in <see cref="GetSummaryAsync(string, string, string)"/>.
    /// </summary>
    Task<RecentUsage> GetRecentAsync(string tenantId, string incarnation, int limit);
}

/// <summary>A page of a tenant's latest usage records (JSON, newest first) and whether older ones exist.</summary>
public sealed record RecentUsage(IReadOnlyList<string> Records, bool HasMore);

/// <summary>
/// The embedded store's usage log: one record per settled request, never lost, never counted twice. The
/// memory grain appends to it inside its settle turn; the Redis grain writes its ledger in Lua instead.
/// </summary>
public interface IUsageLedger
{
    /// <summary>Queues a record for the log and counts it in the month's totals at once (the month of its timestamp).</summary>
    void Append(UsageRecord record);

    /// <summary>
    /// As <see cref="Append(UsageRecord)"/>, into <paramref name="month"/> (YYYY-MM): the month the settle turn booked it
    /// into, the tenant's budget month. A record the silo stamped just before midnight UTC and the grain booked just after
    /// belongs to the new month, as on the Redis store, so a month's report, its budget and a restart agree.
    /// </summary>
    void Append(string month, UsageRecord record) => Append(record);

    /// <summary>Each tenant's spend in <paramref name="month"/> as the log holds it (used to restore budgets).</summary>
    IReadOnlyDictionary<string, long> SpentByTenant(string month);

    /// <summary>One incarnation's spend in <paramref name="month"/> (records of other incarnations of the id do not count).</summary>
    long SpentBy(string tenantId, string incarnation, string month) =>
        incarnation.Length == 0 ? SpentByTenant(month).GetValueOrDefault(tenantId) : 0;

    /// <summary>Completes when every record appended so far is written to the log file.</summary>
    Task FlushAsync(CancellationToken cancellationToken = default);
}
