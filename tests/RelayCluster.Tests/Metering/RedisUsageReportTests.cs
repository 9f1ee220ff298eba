using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Metering;

/// <summary>The usage report on the Redis store: its ledger is each tenant's ledger stream, its totals the monthly hash.</summary>
public sealed class RedisUsageReportTests : UsageReportContract
{
    private readonly RedisServer _redis;

    public RedisUsageReportTests()
        : this(new RedisTestStore())
    {
    }

    private RedisUsageReportTests(RedisTestStore store)
        : base(store) => _redis = store.Redis;

    [Fact]
    public async Task A_month_booked_before_the_hash_kept_slices_still_reports_its_requests_tokens_and_cost()
    {
        // A month that began before the upgrade: the summary's per-model fields hold 5 requests, the slices only the 2 booked since.
        var key = "{t:t2}:usage:2026-10";
        foreach (var (field, amount) in new[]
        {
            ("m:mock-fast:requests", 5L), ("m:mock-fast:prompt", 500L), ("m:mock-fast:completion", 50L), ("m:mock-fast:cost", 9000L),
            ("s:batch:requests:mock-fast", 2L), ("s:batch:prompt:mock-fast", 120L), ("s:batch:completion:mock-fast", 20L),
            ("s:batch:cost:mock-fast", 1000L), ("s:batch:e.completed:mock-fast", 2L), ("s:batch:streamed:mock-fast", 0L),
        })
        {
            await _redis.Connection.ExecuteAsync("HINCRBY", key, field, amount);
        }

        var report = await ReportAsync("&tenant=t2", "2026-10");
        var line = report["totals"]!;
        Assert.Equal((5L, 2L, 500L, 50L, 9000L, 0L), ((long)line["requests"]!, (long)line["batch_requests"]!, (long)line["prompt_tokens"]!,
            (long)line["completion_tokens"]!, (long)line["cost_nanos"]!, (long)line["errors"]!));
        Assert.Equal(2L, (long)line["by_ending"]!["completed"]!);
    }
}
