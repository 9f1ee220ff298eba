using RelayCluster.Core.Metering;
using RelayCluster.Core.Metering.Reports;

namespace RelayCluster.Tests.Metering;

/// <summary>The report's CSV as a spreadsheet opens it: no name may be taken for a formula.</summary>
public sealed class UsageReportCsvTests
{
    [Fact]
    public void Names_a_spreadsheet_would_read_as_formulas_get_a_leading_quote_and_the_rest_stay_as_they_are()
    {
        // Real names: Cloudflare's models begin with "@cf/", a tenant id may begin with "-"; "+A1" and "-2+3" are formulas to Excel.
        var counts = new UsageCounts { Requests = 1, PromptTokens = 3, CostNanos = 5 };
        counts.AddEnding(Endings.Completed, 1);
        var report = UsageReport.Build("2026-11",
        [
            new TenantUsage("-ops", [new UsageSlice("@cf/meta/llama-3.1-8b-instruct", UsageLanes.Interactive, counts)]),
            new TenantUsage("plain_t", [new UsageSlice("+A1", UsageLanes.Interactive, counts), new UsageSlice("-2+3", UsageLanes.Batch, counts),
                new UsageSlice("gpt-4o", UsageLanes.Interactive, counts)]),
        ]);

        var rows = Csv.Parse(UsageReportFormats.ToCsv(report)).Skip(1).Select(r => (r[0], r[1])).ToList();

        Assert.Equal(
        [
            ("'-ops", "'@cf/meta/llama-3.1-8b-instruct"), ("plain_t", "'+A1"), ("plain_t", "'-2+3"), ("plain_t", "gpt-4o"),
        ], rows);
    }
}
