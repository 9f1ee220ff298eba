using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;
using RelayCluster.Redis;
using RelayCluster.Tests.Infrastructure;
using RelayCluster.Tests.Tenants;

namespace RelayCluster.Tests.Metering;

/// <summary>
/// The monthly usage hash's two forms: commits since issue 16 write only the report's counters (<c>u:…</c>), days and the
/// estimated/reasoning counters; a month begun before (summary fields, <c>m:</c>, <c>e:</c>, <c>s:…</c>) still reads whole,
/// and a month holding both adds them up once.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RedisUsageFormsTests(RedisServer redis)
{
    private static readonly TenantStoreOptions Options = new(60_000);
    private readonly long _now = TenantGrainContract.Start.ToUnixTimeMilliseconds();

    [Fact]
    public async Task A_commit_writes_the_slices_days_and_estimated_only_and_the_summary_is_derived_from_them()
    {
        var id = "lean-" + Guid.NewGuid().ToString("N");
        await SettleAsync(id, Record(id, "a", "m1", 10, 4, 100, stream: true, estimated: true), Record(id, "b", "m2", 20, 6, 300, lane: UsageLanes.Batch));

        var fields = (await redis.Connection.HashGetAllAsync("{t:" + id + "}:usage:2026-11")).Select(e => (string)e.Name!).ToList();
        Assert.DoesNotContain(fields, f => f is "requests" or "prompt" or "cost" || f.StartsWith("m:", StringComparison.Ordinal) || f.StartsWith("e:", StringComparison.Ordinal));
        Assert.Contains("u:interactive:streamed:m1", fields);
        Assert.Contains("estimated", fields);

        var summary = await new RedisUsageLedger(redis.Connection).GetSummaryAsync(id, "2026-11");
        Assert.Equal((2L, 30L, 10L, 400L, 1L), (summary.Requests, summary.PromptTokens, summary.CompletionTokens, summary.CostNanos, summary.EstimatedRequests));
        Assert.Equal(new ModelUsage(1, 20, 6, 300), summary.ByModel["m2"]);
        Assert.Equal(2L, summary.ByEnding[Endings.Completed]);
    }

    [Fact]
    public async Task A_month_holding_both_forms_adds_them_up_once()
    {
        // Booked before the upgrade: 3 requests of m1 (2 of them also as old slices), 1 estimated; then one commit since.
        var id = "both-" + Guid.NewGuid().ToString("N");
        var key = "{t:" + id + "}:usage:2026-11";
        foreach (var (field, amount) in new[]
        {
            ("requests", 3L), ("prompt", 30L), ("completion", 9L), ("cost", 900L), ("estimated", 1L), ("cached", 5L),
            ("m:m1:requests", 3L), ("m:m1:prompt", 30L), ("m:m1:completion", 9L), ("m:m1:cost", 900L), ("e:completed", 3L),
            ("s:interactive:requests:m1", 2L), ("s:interactive:prompt:m1", 20L), ("s:interactive:completion:m1", 6L),
            ("s:interactive:cost:m1", 600L), ("s:interactive:e.completed:m1", 2L), ("s:interactive:cached:m1", 5L),
        })
        {
            await redis.Connection.ExecuteAsync("HINCRBY", key, field, amount);
        }

        await SettleAsync(id, Record(id, "new", "m1", 10, 4, 100, estimated: true));

        var ledger = new RedisUsageLedger(redis.Connection);
        var summary = await ledger.GetSummaryAsync(id, "2026-11");
        Assert.Equal((4L, 40L, 13L, 1000L, 2L, 5L), (summary.Requests, summary.PromptTokens, summary.CompletionTokens, summary.CostNanos,
            summary.EstimatedRequests, summary.CachedTokens));
        Assert.Equal(new ModelUsage(4, 40, 13, 1000), summary.ByModel["m1"]);
        Assert.Equal(4L, summary.ByEnding[Endings.Completed]);

        var slice = Assert.Single(await ledger.GetSlicesAsync(id, "", "2026-11"));
        Assert.Equal((4L, 40L, 13L, 1000L, 5L), (slice.Counts.Requests, slice.Counts.PromptTokens, slice.Counts.CompletionTokens, slice.Counts.CostNanos,
            slice.Counts.CachedTokens));
        Assert.Equal(3L, slice.Counts.Ending(Endings.Completed)); // the one request booked before slices kept no ending
    }

    private async Task SettleAsync(string id, params UsageRecord[] records)
    {
        var journal = new RedisTenantJournal(redis.Connection);
        var (epoch, image) = await journal.LoadAsync(id);
        var book = new TenantBook(id, image, Options, _now);
        foreach (var record in records)
        {
            Assert.True(book.Settle(new Settlement(record, Unreserved: true), _now));
        }

        await journal.CommitAsync(id, epoch, book.TakeChanges());
    }

    private UsageRecord Record(string id, string requestId, string model, long prompt, long completion, long cost,
        bool stream = false, bool estimated = false, string lane = UsageLanes.Interactive) => new()
    {
        TimestampMs = _now, Tenant = id, RequestId = requestId, Endpoint = "/v1/chat/completions", Model = model, UpstreamModel = model,
        Provider = "p", PromptTokens = prompt, CompletionTokens = completion, CostNanos = cost, Ending = Endings.Completed, Status = 200,
        Stream = stream, Estimated = estimated, Lane = lane,
    };
}
