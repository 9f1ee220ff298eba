namespace RelayCluster.Core.Metering.Reports;

/// <summary>One tenant's month as its store keeps it: the slices of <see cref="IUsageReader.GetSlicesAsync"/>.</summary>
public sealed record TenantUsage(string Tenant, IReadOnlyList<UsageSlice> Slices);

/// <summary>
/// One line of a usage report: the usage of a tenant × model, of a tenant, or of everyone, with the lanes merged
/// (<see cref="BatchRequests"/> says how much of it was batch). <see cref="Tenant"/> and <see cref="Model"/> are null on
/// the totals lines they sum over.
/// </summary>
public sealed record UsageReportLine(string? Tenant, string? Model, UsageCounts Counts, long BatchRequests)
{
    public long TotalTokens => Saturating.Add(Counts.PromptTokens, Counts.CompletionTokens);

    /// <summary>Streamed requests over requests, to 4 decimals (0 when there were none).</summary>
    public decimal StreamedShare => Share(Counts.StreamedRequests);

    /// <summary>Batch-lane requests (items of <c>/v1/batches</c> jobs) over requests, to 4 decimals.</summary>
    public decimal BatchShare => Share(BatchRequests);

    /// <summary>Tokens per request, to 2 decimals (0 when there were no requests).</summary>
    public decimal Average(long tokens) => Counts.Requests == 0 ? 0m : decimal.Round((decimal)tokens / Counts.Requests, 2, MidpointRounding.AwayFromZero);

    private decimal Share(long part) => Counts.Requests == 0 ? 0m : decimal.Round((decimal)part / Counts.Requests, 4, MidpointRounding.AwayFromZero);
}

/// <summary>A tenant's lines (one per model, by model name) and their sum.</summary>
public sealed record TenantReport(string Tenant, IReadOnlyList<UsageReportLine> Models, UsageReportLine Totals);

/// <summary>
/// A month's usage report: per tenant (by id) and model, the tenant's totals and the grand totals, summed from the
/// slices the stores keep as usage is booked. Tenants without usage in the month are left out.
/// </summary>
public sealed record UsageReport(string Month, IReadOnlyList<TenantReport> Tenants, UsageReportLine Totals)
{
    public static UsageReport Build(string month, IEnumerable<TenantUsage> usage)
    {
        var grand = new UsageCounts();
        var grandBatch = 0L;
        var tenants = new List<TenantReport>();
        foreach (var tenant in usage.Where(t => t.Slices.Any(s => s.Counts.Requests > 0)).OrderBy(t => t.Tenant, StringComparer.Ordinal))
        {
            var models = new List<UsageReportLine>();
            var tenantCounts = new UsageCounts();
            var tenantBatch = 0L;
            foreach (var model in tenant.Slices.GroupBy(s => s.Model, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                var counts = new UsageCounts();
                var batch = 0L;
                foreach (var slice in model)
                {
                    counts.Add(slice.Counts);
                    batch = slice.Lane == UsageLanes.Batch ? Saturating.Add(batch, slice.Counts.Requests) : batch;
                }

                models.Add(new UsageReportLine(tenant.Tenant, model.Key, counts, batch));
                tenantCounts.Add(counts);
                tenantBatch = Saturating.Add(tenantBatch, batch);
            }

            tenants.Add(new TenantReport(tenant.Tenant, models, new UsageReportLine(tenant.Tenant, null, tenantCounts, tenantBatch)));
            grand.Add(tenantCounts);
            grandBatch = Saturating.Add(grandBatch, tenantBatch);
        }

        return new UsageReport(month, tenants, new UsageReportLine(null, null, grand, grandBatch));
    }
}
