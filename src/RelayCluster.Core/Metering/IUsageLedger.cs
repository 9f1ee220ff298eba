namespace RelayCluster.Core.Metering;

/// <summary>Reads a tenant's usage totals for a month, whichever store keeps them.</summary>
public interface IUsageReader
{
    Task<UsageSummary> GetSummaryAsync(string tenantId, string month);
}

/// <summary>
/// The embedded store's usage log: one record per settled request, never lost, never counted twice. The
/// memory grain appends to it inside its settle turn; the Redis grain writes its ledger in Lua instead.
/// </summary>
public interface IUsageLedger
{
    /// <summary>Queues a record for the log and counts it in the month's totals at once.</summary>
    void Append(UsageRecord record);

    /// <summary>Each tenant's spend in <paramref name="month"/> as the log holds it (used to restore budgets).</summary>
    IReadOnlyDictionary<string, long> SpentByTenant(string month);

    /// <summary>Completes when every record appended so far is written to the log file.</summary>
    Task FlushAsync(CancellationToken cancellationToken = default);
}
