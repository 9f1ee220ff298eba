using RelayCluster.Core.Tenants;
using RelayCluster.Redis;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Tenants;

/// <summary>The Redis journal's commits at sizes a hot tenant reaches: each one is written whole, and a reload equals the book.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisTenantJournalTests(RedisServer redis)
{
    private static readonly TenantStoreOptions Options = new(60_000);
    private readonly long _now = TenantGrainContract.Start.ToUnixTimeMilliseconds();

    [Theory]
    [InlineData(5_000)]
    [InlineData(10_000)]
    public async Task A_group_commit_of_thousands_of_admissions_is_written_whole(int admissions)
    {
        var journal = new RedisTenantJournal(redis.Connection);
        var id = "big-" + Guid.NewGuid().ToString("N");
        var (epoch, image) = await journal.LoadAsync(id);
        var book = new TenantBook(id, image, Options, _now);
        book.SetLimits(new TenantLimits(null, null, admissions, 1_000_000_000), _now);
        for (var i = 0; i < admissions; i++)
        {
            Assert.True(book.Admit(new AdmissionRequest($"r{i}", 1, 1), "silo-a", _now).IsAdmitted);
        }

        await journal.CommitAsync(id, epoch, book.TakeChanges());

        await AssertReloadEqualsAsync(journal, id, book);
    }

    [Fact]
    public async Task Reclaiming_a_dead_silos_thousands_of_reservations_is_one_whole_commit()
    {
        var journal = new RedisTenantJournal(redis.Connection);
        var id = "reclaim-" + Guid.NewGuid().ToString("N");
        var (epoch, image) = await journal.LoadAsync(id);
        var book = new TenantBook(id, image, Options, _now);
        for (var i = 0; i < 4_500; i++)
        {
            book.Admit(new AdmissionRequest($"r{i}", 1, 1), "silo-dead", _now);
            if (i % 1_000 == 999)
            {
                await journal.CommitAsync(id, epoch, book.TakeChanges()); // admitted over several commits
            }
        }

        await journal.CommitAsync(id, epoch, book.TakeChanges());
        Assert.Equal(4_500, book.ReclaimSilos(new HashSet<string>(["silo-dead"]), _now + 1));
        book.Settle(new Settlement(new Core.Metering.UsageRecord
        {
            TimestampMs = _now, Tenant = id, RequestId = "r0", Endpoint = "/v1/chat/completions", Model = "m", UpstreamModel = "m",
            Provider = "p", PromptTokens = 1, CostNanos = 1, Ending = Core.Metering.Endings.Completed, Status = 200,
        }), _now + 1);

        await journal.CommitAsync(id, epoch, book.TakeChanges());

        await AssertReloadEqualsAsync(journal, id, book);
        Assert.Equal(1L, (long)await redis.Connection.ExecuteAsync("XLEN", "{t:" + id + "}:ledger"));
    }

    [Fact]
    public async Task Limits_out_of_range_at_the_grain_boundary_are_enforced_as_a_reload_reads_them()
    {
        var journal = new RedisTenantJournal(redis.Connection);
        var id = "limits-" + Guid.NewGuid().ToString("N");
        var (epoch, image) = await journal.LoadAsync(id);
        var book = new TenantBook(id, image, Options, _now);
        book.SetLimits(new TenantLimits(0, -1, -3, -5), _now); // no caller's validation in between
        var probe = new AdmissionRequest("probe", 1, 1);
        var admitted = book.Admit(probe, "", _now);
        book.Release("probe", _now);
        await journal.CommitAsync(id, epoch, book.TakeChanges());

        var (_, loaded) = await journal.LoadAsync(id);
        var reloaded = new TenantBook(id, loaded, Options, _now);
        Assert.Equal(book.Quota(_now).Limits, reloaded.Quota(_now).Limits);
        Assert.Equal(admitted.Outcome, reloaded.Admit(probe, "", _now).Outcome);
        Assert.Equal(AdmissionOutcome.BudgetExceeded, admitted.Outcome); // a negative budget never means "unlimited"
    }

    [Fact]
    public async Task Thresholds_the_pause_cause_and_crossings_with_their_deliveries_come_back_from_a_reload()
    {
        var journal = new RedisTenantJournal(redis.Connection);
        var id = "alerts-" + Guid.NewGuid().ToString("N");
        var (epoch, image) = await journal.LoadAsync(id);
        var book = new TenantBook(id, image, Options, _now);
        book.SetLimits(new TenantLimits(null, null, null, 1_000_000, 0.5, 0.9, "https://hooks.example/T000/B000/secret"), _now);
        await journal.CommitAsync(id, epoch, book.TakeChanges());
        book.Settle(new Settlement(new Core.Metering.UsageRecord
        {
            TimestampMs = _now, Tenant = id, RequestId = "big", Endpoint = "/v1/chat/completions", Model = "m", UpstreamModel = "m",
            Provider = "p", PromptTokens = 1, CostNanos = 950_000, Ending = Core.Metering.Endings.Completed, Status = 200,
        }, Unreserved: true), _now);
        Assert.True(book.RecordDelivery(book.Crossings[0], new AlertDelivery(AlertDelivery.Pending, 2, _now, "HTTP 503", _now + 2_000)));
        await journal.CommitAsync(id, epoch, book.TakeChanges());

        var (_, loaded) = await journal.LoadAsync(id);
        Assert.Equal(book.ToImage(_now).State, loaded.State);
        Assert.True(loaded.State!.Value.PausedByThreshold);
        Assert.Equal(book.Crossings, loaded.Crossings);
        Assert.Equal(AdmissionOutcome.Paused, new TenantBook(id, loaded, Options, _now).Admit(new AdmissionRequest("p", 1, 1), "", _now).Outcome);
    }

    [Fact]
    public async Task A_state_hash_written_before_thresholds_existed_loads_with_the_defaults()
    {
        var journal = new RedisTenantJournal(redis.Connection);
        var id = "old-" + Guid.NewGuid().ToString("N");
        await redis.Connection.ExecuteAsync("HSET", "{t:" + id + "}:state", "month", "2026-11", "spent", "5", "rpm", "0", "tpm", "0", "maxc", "0",
            "budget", "1000", "paused", "1", "incarnation", "");

        var (_, loaded) = await journal.LoadAsync(id);
        Assert.Equal(new TenantScalars(new TenantLimits(null, null, null, 1000), true, "2026-11", 5, ""), loaded.State);
        Assert.Empty(loaded.Crossings);
    }

    [Fact]
    public async Task A_settle_writes_only_the_month_and_its_spend_and_the_limits_stored_before_stay()
    {
        var journal = new RedisTenantJournal(redis.Connection);
        var id = "spend-" + Guid.NewGuid().ToString("N");
        var (epoch, image) = await journal.LoadAsync(id);
        var book = new TenantBook(id, image, Options, _now);
        book.SetLimits(new TenantLimits(100, 5_000, 7, 1_000_000, 0.5, null, "https://hooks.example/x"), _now);
        book.Admit(new AdmissionRequest("a", 10, 100), "silo-a", _now);
        await journal.CommitAsync(id, epoch, book.TakeChanges());
        book.Settle(new Settlement(new Core.Metering.UsageRecord
        {
            TimestampMs = _now, Tenant = id, RequestId = "a", Endpoint = "/v1/chat/completions", Model = "m", UpstreamModel = "m",
            Provider = "p", PromptTokens = 1, CostNanos = 70, Ending = Core.Metering.Endings.Completed, Status = 200,
        }), _now);
        await journal.CommitAsync(id, epoch, book.TakeChanges());

        await AssertReloadEqualsAsync(journal, id, book);
        Assert.Equal(70, (await journal.LoadAsync(id)).Image.State!.Value.SpentNanos);
    }

    [Fact]
    public async Task A_state_hash_holding_only_a_month_and_its_spend_loads_with_the_defaults()
    {
        var journal = new RedisTenantJournal(redis.Connection);
        var id = "spendonly-" + Guid.NewGuid().ToString("N");
        var (epoch, image) = await journal.LoadAsync(id);
        var book = new TenantBook(id, image, Options, _now);
        book.Settle(new Settlement(new Core.Metering.UsageRecord
        {
            TimestampMs = _now, Tenant = id, RequestId = "u", Endpoint = "/v1/chat/completions", Model = "m", UpstreamModel = "m",
            Provider = "p", PromptTokens = 1, CostNanos = 9, Ending = Core.Metering.Endings.Completed, Status = 200,
        }, Unreserved: true), _now);
        await journal.CommitAsync(id, epoch, book.TakeChanges());

        Assert.Equal(2L, (long)await redis.Connection.ExecuteAsync("HLEN", "{t:" + id + "}:state"));
        var (_, loaded) = await journal.LoadAsync(id);
        Assert.Equal(new TenantScalars(TenantLimits.Unlimited, false, "2026-11", 9, ""), loaded.State);
    }

    [Fact]
    public async Task Ledger_records_are_stored_byte_for_byte_as_the_serializer_writes_them_however_many_a_commit_carries()
    {
        var journal = new RedisTenantJournal(redis.Connection);
        var id = "json-" + Guid.NewGuid().ToString("N");
        var (epoch, image) = await journal.LoadAsync(id);
        var book = new TenantBook(id, image, Options, _now);
        var records = Enumerable.Range(0, 40).Select(i => new Core.Metering.UsageRecord
        {
            TimestampMs = _now, Tenant = id, RequestId = $"r{i}", Endpoint = "/v1/chat/completions", Model = "modèle-\"ü\"<b>&" + i,
            UpstreamModel = "m", Provider = "p", PromptTokens = i, CostNanos = i, Ending = Core.Metering.Endings.Completed, Status = 200,
            LatencyMs = 0.1 * i, Route = i % 2 == 0 ? null : "route\n" + i,
        }).ToList();
        foreach (var record in records)
        {
            Assert.True(book.Admit(new AdmissionRequest(record.RequestId, 1, 1), "127.0.0.1:11111@1" + record.RequestId, _now).IsAdmitted);
        }

        await journal.CommitAsync(id, epoch, book.TakeChanges());
        foreach (var record in records)
        {
            Assert.True(book.Settle(new Settlement(record), _now));
        }

        await journal.CommitAsync(id, epoch, book.TakeChanges()); // ~40 × 450 bytes: the pooled buffer grows several times

        var stored = (StackExchange.Redis.RedisResult[])(await redis.Connection.ExecuteAsync("XRANGE", "{t:" + id + "}:ledger", "-", "+"))!;
        Assert.Equal(
            records.Select(r => System.Text.Json.JsonSerializer.Serialize(r, Core.Metering.UsageJsonContext.Default.UsageRecord)),
            stored.SelectMany(e => ((StackExchange.Redis.RedisResult[])((StackExchange.Redis.RedisResult[])e!)[1]!).Where((_, i) => i % 2 == 1).Select(v => (string)v!)));
        Assert.Single(stored); // one commit, one stream entry with a field per record
        await AssertReloadEqualsAsync(journal, id, book);
    }

    [Fact]
    public async Task A_commit_of_more_records_than_an_entry_holds_appends_them_all_in_order_and_recent_reads_them_newest_first()
    {
        var journal = new RedisTenantJournal(redis.Connection);
        var id = "many-" + Guid.NewGuid().ToString("N");
        var (epoch, image) = await journal.LoadAsync(id);
        var book = new TenantBook(id, image, Options, _now);
        for (var i = 0; i < 1_203; i++)
        {
            Assert.True(book.Settle(new Settlement(new Core.Metering.UsageRecord
            {
                TimestampMs = _now, Tenant = id, RequestId = $"r{i}", Endpoint = "/v1/chat/completions", Model = "m", UpstreamModel = "m",
                Provider = "p", PromptTokens = 1, CostNanos = 1, Ending = Core.Metering.Endings.Completed, Status = 200,
            }, Unreserved: true), _now));
        }

        await journal.CommitAsync(id, epoch, book.TakeChanges());

        Assert.Equal(3L, (long)await redis.Connection.ExecuteAsync("XLEN", "{t:" + id + "}:ledger")); // 500 + 500 + 203
        var usage = new RedisUsageLedger(redis.Connection);
        var recent = await usage.GetRecentAsync(id, "", 700);
        Assert.True(recent.HasMore);
        Assert.Equal(Enumerable.Range(503, 700).Reverse().Select(i => $"r{i}"),
            recent.Records.Select(r => System.Text.Json.JsonSerializer.Deserialize(r, Core.Metering.UsageJsonContext.Default.UsageRecord)!.RequestId));
        var all = await usage.GetRecentAsync(id, "", 1_203);
        Assert.False(all.HasMore);
        Assert.Equal(1_203, all.Records.Count);
        Assert.Equal(1_203L, (await usage.GetSummaryAsync(id, "2026-11")).Requests);
    }

    private async Task AssertReloadEqualsAsync(RedisTenantJournal journal, string id, TenantBook book)
    {
        var (_, loaded) = await journal.LoadAsync(id);
        var expected = book.ToImage(_now + 1);
        Assert.Equal(expected.State, loaded.State);
        Assert.Equal(expected.Requests.OrderBy(b => b.Key), loaded.Requests.OrderBy(b => b.Key));
        Assert.Equal(expected.Tokens.OrderBy(b => b.Key), loaded.Tokens.OrderBy(b => b.Key));
        Assert.Equal(expected.Reservations.OrderBy(r => r.Key, StringComparer.Ordinal), loaded.Reservations.OrderBy(r => r.Key, StringComparer.Ordinal));
        Assert.Equal(expected.Reclaimed.OrderBy(r => r.Key, StringComparer.Ordinal), loaded.Reclaimed.OrderBy(r => r.Key, StringComparer.Ordinal));
    }
}
