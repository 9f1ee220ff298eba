using Microsoft.Extensions.Logging.Abstractions;
using RelayCluster.Core.Metering;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Metering;

public sealed class JsonlUsageLedgerTests
{
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 11, 15, 12, 0, 0, TimeSpan.Zero));

    private JsonlUsageLedger Ledger(string path) => new(path, _clock, NullLogger<JsonlUsageLedger>.Instance);

    private UsageRecord Record(string tenant, string id, long cost, DateTimeOffset? at = null) => new()
    {
        TimestampMs = (at ?? _clock.GetUtcNow()).ToUnixTimeMilliseconds(),
        Tenant = tenant, RequestId = id, Endpoint = "/v1/chat/completions", Model = "m", UpstreamModel = "m", Provider = "p",
        PromptTokens = 10, CompletionTokens = 5, CostNanos = cost, Ending = Endings.Completed, Status = 200,
    };

    [Fact]
    public async Task A_new_ledger_over_the_same_directory_restores_each_tenants_spend()
    {
        using var directory = new TempDirectory();
        await using (var ledger = Ledger(directory.Path))
        {
            ledger.Append(Record("a", "1", 100));
            ledger.Append(Record("a", "2", 250));
            ledger.Append(Record("b", "3", 7));
            await ledger.FlushAsync();
        }

        await using var restarted = Ledger(directory.Path);
        var spent = restarted.SpentByTenant("2026-11");
        Assert.Equal(350, spent["a"]);
        Assert.Equal(7, spent["b"]);
        Assert.Equal(2, restarted.GetSummary("a", "2026-11").Requests);
    }

    [Fact]
    public async Task Records_go_to_the_file_of_their_month_and_other_months_do_not_count()
    {
        using var directory = new TempDirectory();
        await using var ledger = Ledger(directory.Path);
        ledger.Append(Record("a", "old", 999, new DateTimeOffset(2026, 10, 31, 23, 0, 0, TimeSpan.Zero)));
        ledger.Append(Record("a", "new", 1));
        await ledger.FlushAsync();

        Assert.True(File.Exists(ledger.FileOf("2026-10")));
        Assert.Equal(1, ledger.SpentByTenant("2026-11")["a"]);
        Assert.Equal(999, ledger.GetSummary("a", "2026-10").CostNanos);
    }

    [Fact]
    public async Task A_torn_last_line_from_a_crash_is_skipped_and_the_rest_restored()
    {
        using var directory = new TempDirectory();
        await using (var ledger = Ledger(directory.Path))
        {
            ledger.Append(Record("a", "1", 40));
            await ledger.FlushAsync();
            await File.AppendAllTextAsync(ledger.FileOf("2026-11"), "{\"ts\":17,\"tenant\":\"a\",\"cost_na");
        }

        await using var restarted = Ledger(directory.Path);
        Assert.Equal(40, restarted.SpentByTenant("2026-11")["a"]);
    }

    [Fact]
    public async Task The_summary_breaks_usage_down_by_model_and_ending()
    {
        using var directory = new TempDirectory();
        await using var ledger = Ledger(directory.Path);
        ledger.Append(Record("a", "1", 10));
        ledger.Append(Record("a", "2", 10) with { Ending = Endings.ClientDisconnected, Estimated = true });
        var summary = ledger.GetSummary("a", "2026-11");
        Assert.Equal(2, summary.ByModel["m"].Requests);
        Assert.Equal(1, summary.ByEnding[Endings.ClientDisconnected]);
        Assert.Equal(1, summary.EstimatedRequests);
        Assert.Equal(20, summary.CostNanos);
    }
}
