using Microsoft.Extensions.Logging.Abstractions;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Metering;

/// <summary>Which month a request settled across midnight belongs to on the embedded store: the month its budget counts it in.</summary>
public sealed class UsageMonthBoundaryTests
{
    [Fact]
    public async Task A_record_stamped_before_midnight_and_booked_after_is_in_the_report_of_the_month_whose_budget_counts_it_also_after_a_restart()
    {
        using var usage = new TempDirectory();
        var clock = new ManualClock(new DateTimeOffset(2026, 11, 30, 23, 59, 59, TimeSpan.Zero));
        await using (var ledger = new JsonlUsageLedger(usage.Path, clock, NullLogger<JsonlUsageLedger>.Instance))
        {
            var tenant = JournaledTenantGrains.Embedded(ledger, TenantStoreOptions.Default, clock).GetTenant("acme");
            await tenant.SetLimitsAsync(TenantLimits.Unlimited);
            Assert.True((await tenant.AdmitAsync(new AdmissionRequest("r1", 12, 1_000))).IsAdmitted);

            // The silo stamps the record at 23:59:59.999; the settle turn runs after midnight (a queued turn, a retried settle).
            var record = new UsageRecord
            {
                TimestampMs = clock.GetUtcNow().AddMilliseconds(999).ToUnixTimeMilliseconds(), Tenant = "acme", RequestId = "r1",
                Endpoint = "/v1/chat/completions", Model = "m", UpstreamModel = "m", Provider = "p", PromptTokens = 10, CompletionTokens = 2,
                CostNanos = 700, Ending = Endings.Completed, Lane = UsageLanes.Interactive,
            };
            clock.Advance(TimeSpan.FromSeconds(2));
            Assert.True(await tenant.SettleAsync(new Settlement(record)));
            var quota = await tenant.GetQuotaAsync();
            Assert.Equal(("2026-12", 700L), (quota.Month, quota.SpentNanos));

            Assert.Equal((1L, 700L), await MonthAsync(ledger, "2026-12"));
            Assert.Equal((0L, 0L), await MonthAsync(ledger, "2026-11"));
            await ledger.FlushAsync();
        }

        // Rebuilt from the log at a restart: the same month, and the budget restored from it is the one the book had.
        await using var restarted = new JsonlUsageLedger(usage.Path, clock, NullLogger<JsonlUsageLedger>.Instance);
        Assert.Equal((1L, 700L), await MonthAsync(restarted, "2026-12"));
        Assert.Equal((0L, 0L), await MonthAsync(restarted, "2026-11"));
        Assert.Equal(700L, restarted.SpentByTenant("2026-12").GetValueOrDefault("acme"));
    }

    private static async Task<(long Requests, long CostNanos)> MonthAsync(JsonlUsageLedger ledger, string month)
    {
        var slices = await ledger.GetSlicesAsync("acme", "", month);
        return (slices.Sum(s => s.Counts.Requests), slices.Sum(s => s.Counts.CostNanos));
    }
}
