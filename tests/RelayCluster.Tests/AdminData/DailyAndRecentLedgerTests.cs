using Microsoft.Extensions.Logging.Abstractions;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Metering.Reports;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.AdminData;

/// <summary>The embedded store's per-day counters and latest-records ring: kept at booking, rebuilt from the log at start.</summary>
public sealed class DailyAndRecentLedgerTests
{
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 11, 15, 12, 0, 0, TimeSpan.Zero));

    private JsonlUsageLedger Ledger(string path) => new(path, _clock, NullLogger<JsonlUsageLedger>.Instance);

    private static UsageRecord Record(string tenant, string id, DateTimeOffset at, string ending = Endings.Completed, long cost = 100) => new()
    {
        TimestampMs = at.ToUnixTimeMilliseconds(), Tenant = tenant, RequestId = id, Endpoint = "/v1/chat/completions", Model = "m",
        UpstreamModel = "m", Provider = "p", PromptTokens = 10, CompletionTokens = 5, CachedTokens = 4, CostNanos = cost, Ending = ending, Status = 200,
    };

    [Fact]
    public async Task Days_and_the_latest_records_are_rebuilt_from_the_log_after_a_restart()
    {
        using var directory = new TempDirectory();
        var day3 = new DateTimeOffset(2026, 11, 3, 9, 0, 0, TimeSpan.Zero);
        var day15 = new DateTimeOffset(2026, 11, 15, 1, 0, 0, TimeSpan.Zero);
        await using (var ledger = Ledger(directory.Path))
        {
            ledger.Append(Record("a", "1", day3));
            ledger.Append(Record("a", "2", day15, Endings.UpstreamError, cost: 0));
            ledger.Append(Record("a", "3", day15));
            ledger.Append(Record("b", "4", day15));
            // Stamped on October 31 but booked into November (the tenant's budget month): November's first day.
            ledger.Append("2026-11", Record("a", "5", new DateTimeOffset(2026, 10, 31, 23, 59, 59, TimeSpan.Zero)));
            await ledger.FlushAsync();
        }

        await using var restarted = Ledger(directory.Path);
        var days = await restarted.GetDaysAsync("a", "", "2026-11");
        Assert.Equal(30, days.Count);
        Assert.Equal(new UsageDay("2026-11-01", 1, 0, 10, 5, 4, 100), days[0]);
        Assert.Equal(new UsageDay("2026-11-03", 1, 0, 10, 5, 4, 100), days[2]);
        Assert.Equal(new UsageDay("2026-11-15", 2, 1, 20, 10, 8, 100), days[14]);
        Assert.Equal(4, days.Sum(d => d.Requests)); // a's four records, b's not among them

        var recent = await restarted.GetRecentAsync("a", "", 2);
        Assert.True(recent.HasMore);
        Assert.Equal(["5", "3"], recent.Records.Select(r => System.Text.Json.JsonDocument.Parse(r).RootElement.GetProperty("request_id").GetString()));
        var b = await restarted.GetRecentAsync("b", "", 50);
        Assert.False(b.HasMore);
        Assert.Single(b.Records);
        Assert.Empty((await restarted.GetRecentAsync("nobody", "", 50)).Records);
    }

    [Fact]
    public async Task The_ring_keeps_the_latest_200_records_of_a_tenant()
    {
        using var directory = new TempDirectory();
        await using var ledger = Ledger(directory.Path);
        for (var i = 0; i < 250; i++)
        {
            ledger.Append(Record("a", i.ToString(System.Globalization.CultureInfo.InvariantCulture), _clock.GetUtcNow()));
        }

        var recent = await ledger.GetRecentAsync("a", "", 200);
        Assert.True(recent.HasMore);
        Assert.Equal(200, recent.Records.Count);
        Assert.Contains("\"request_id\":\"249\"", recent.Records[0], StringComparison.Ordinal);
        Assert.Contains("\"request_id\":\"50\"", recent.Records[^1], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("2026-11-15T10:00:00Z", "2026-11", 15)]
    [InlineData("2026-10-31T23:59:59Z", "2026-11", 1)]
    [InlineData("2026-12-01T00:00:01Z", "2026-11", 30)]
    [InlineData("2024-02-29T12:00:00Z", "2024-02", 29)]
    public void A_records_day_is_its_date_kept_inside_the_booked_month(string stamped, string month, int day) =>
        Assert.Equal(day, UsageDays.DayOf(month, Record("a", "1", DateTimeOffset.Parse(stamped, System.Globalization.CultureInfo.InvariantCulture))));
}
