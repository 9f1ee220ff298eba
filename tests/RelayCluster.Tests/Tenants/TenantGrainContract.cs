using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Tenants;

/// <summary>
/// What a tenant grain must do, run against the Orleans grain with each journal (embedded and Redis): the same turns,
/// the same answers. Time is a manual clock, which the grains take "now" from.
/// </summary>
public abstract partial class TenantGrainContract
{
    protected const long TtlMs = 60_000;

    /// <summary>Where every test's clock starts: two minutes before a month ends.</summary>
    public static readonly DateTimeOffset Start = new(2026, 11, 30, 23, 58, 0, TimeSpan.Zero);

    protected virtual ManualClock Clock { get; } = new(Start);

    protected TenantStoreOptions Options { get; } = new(TtlMs);

    /// <summary>A grain of a tenant no other test uses, with these limits set.</summary>
    protected abstract Task<ITenantGrain> GrainAsync(TenantLimits limits);

    /// <summary>How many records the tenant's ledger holds, and their total cost.</summary>
    protected abstract Task<(long Records, long CostNanos)> LedgerAsync(ITenantGrain grain);

    protected Settlement Settle(string requestId, long tokens, long cost) => new(new UsageRecord
    {
        TimestampMs = Clock.GetUtcNow().ToUnixTimeMilliseconds(), Tenant = "t", RequestId = requestId, Endpoint = "/v1/chat/completions",
        Model = "m", UpstreamModel = "m", Provider = "p", PromptTokens = tokens, CostNanos = cost, Ending = Endings.Completed, Status = 200,
    });

    [Fact]
    public async Task Requests_per_minute_admit_exactly_the_limit_then_refuse_with_the_wait()
    {
        var grain = await GrainAsync(new TenantLimits(3, null, null, null));
        for (var i = 0; i < 3; i++)
        {
            var admitted = await grain.AdmitAsync(new AdmissionRequest($"r{i}", 10, 0));
            Assert.True(admitted.IsAdmitted);
            Assert.Equal(2 - i, admitted.Window.RequestsRemaining);
            await grain.SettleAsync(Settle($"r{i}", 10, 0));
        }

        Clock.Advance(TimeSpan.FromSeconds(20));
        var refused = await grain.AdmitAsync(new AdmissionRequest("r3", 10, 0));
        Assert.Equal(AdmissionOutcome.RequestsPerMinuteExceeded, refused.Outcome);
        Assert.Equal(TimeSpan.FromSeconds(40), refused.RetryAfter);

        Clock.Advance(TimeSpan.FromSeconds(40));
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("r4", 10, 0))).IsAdmitted);
    }

    [Fact]
    public async Task Tokens_per_minute_count_the_estimate_until_settle_corrects_it()
    {
        var grain = await GrainAsync(new TenantLimits(null, 1000, null, null));
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("a", 900, 0))).IsAdmitted);
        Assert.Equal(AdmissionOutcome.TokensPerMinuteExceeded, (await grain.AdmitAsync(new AdmissionRequest("b", 200, 0))).Outcome);
        Assert.Equal(AdmissionOutcome.RequestLargerThanTokenLimit, (await grain.AdmitAsync(new AdmissionRequest("c", 1001, 0))).Outcome);

        await grain.SettleAsync(Settle("a", 150, 0));

        Assert.True((await grain.AdmitAsync(new AdmissionRequest("b", 200, 0))).IsAdmitted);
        Assert.Equal(350, (await grain.GetQuotaAsync()).TokensInWindow);
    }

    [Fact]
    public async Task Concurrency_slots_are_taken_at_admission_and_freed_at_settle()
    {
        var grain = await GrainAsync(new TenantLimits(null, null, 2, null));
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("a", 1, 0))).IsAdmitted);
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("b", 1, 0))).IsAdmitted);
        Assert.Equal(AdmissionOutcome.ConcurrencyExceeded, (await grain.AdmitAsync(new AdmissionRequest("c", 1, 0))).Outcome);

        await grain.SettleAsync(Settle("a", 1, 0));
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("c", 1, 0))).IsAdmitted);
        Assert.Equal(2, (await grain.GetQuotaAsync()).InFlight);
    }

    [Fact]
    public async Task A_capacity_share_leaves_the_rest_of_every_window_to_full_share_requests()
    {
        // Batch work takes half of each limit at most; interactive calls may still fill the whole of it.
        var grain = await GrainAsync(new TenantLimits(10, 1000, 4, null));
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("b1", 100, 0, 0.5))).IsAdmitted);
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("b2", 100, 0, 0.5))).IsAdmitted);
        Assert.Equal(AdmissionOutcome.ConcurrencyExceeded, (await grain.AdmitAsync(new AdmissionRequest("b3", 100, 0, 0.5))).Outcome);
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("i1", 100, 0))).IsAdmitted);
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("i2", 100, 0))).IsAdmitted);

        foreach (var id in new[] { "b1", "b2", "i1", "i2" })
        {
            await grain.SettleAsync(Settle(id, 100, 0));
        }

        // 4 of 10 requests and 400 of 1000 tokens are used; a half share is 5 requests and 500 tokens.
        Assert.Equal(AdmissionOutcome.TokensPerMinuteExceeded, (await grain.AdmitAsync(new AdmissionRequest("b4", 150, 0, 0.5))).Outcome);
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("b5", 50, 0, 0.5))).IsAdmitted);
        await grain.SettleAsync(Settle("b5", 50, 0));
        Assert.Equal(AdmissionOutcome.RequestsPerMinuteExceeded, (await grain.AdmitAsync(new AdmissionRequest("b6", 1, 0, 0.5))).Outcome);
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("i3", 100, 0))).IsAdmitted);
    }

    [Fact]
    public async Task Releasing_frees_the_slot_hold_and_estimate_without_booking_anything()
    {
        var grain = await GrainAsync(new TenantLimits(null, 1000, 1, 10_000));
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("dup", 600, 4000))).IsAdmitted);
        Assert.True(await grain.ReleaseAsync("dup"));
        Assert.False(await grain.ReleaseAsync("dup"));

        var quota = await grain.GetQuotaAsync();
        Assert.Equal((0, 0L, 0L, 0L), (quota.InFlight, quota.ReservedNanos, quota.SpentNanos, quota.TokensInWindow));
        Assert.Equal((0L, 0L), await LedgerAsync(grain));
        Assert.False(await grain.SettleAsync(Settle("dup", 600, 4000))); // released is not reclaimed: nothing to book
    }

    [Fact]
    public async Task Budget_holds_reservations_books_the_actual_cost_and_ledgers_it_once()
    {
        var grain = await GrainAsync(new TenantLimits(null, null, null, 1000));
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("a", 1, 600))).IsAdmitted);
        Assert.Equal(AdmissionOutcome.BudgetExceeded, (await grain.AdmitAsync(new AdmissionRequest("b", 1, 500))).Outcome);

        Assert.True(await grain.SettleAsync(Settle("a", 1, 100)));
        Assert.False(await grain.SettleAsync(Settle("a", 1, 100)));

        var quota = await grain.GetQuotaAsync();
        Assert.Equal((100, 0), (quota.SpentNanos, quota.ReservedNanos));
        Assert.Equal((1, 100), await LedgerAsync(grain));
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("b", 1, 500))).IsAdmitted);
    }

    [Fact]
    public async Task A_call_that_costs_nothing_is_not_refused_for_an_exhausted_budget()
    {
        var grain = await GrainAsync(new TenantLimits(null, null, null, 1000, PauseThreshold: 0)); // the budget refuses, not the auto-pause
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("spend", 1, 1000))).IsAdmitted);
        Assert.True(await grain.SettleAsync(Settle("spend", 1, 1000)));

        // The budget is spent to the nano-dollar: a call that may cost one more is refused, one that costs nothing
        // (reading files or a batch's state) is not, and still takes its slot until released.
        Assert.Equal(AdmissionOutcome.BudgetExceeded, (await grain.AdmitAsync(new AdmissionRequest("paid", 0, 1))).Outcome);
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("free", 0, 0))).IsAdmitted);
        Assert.Equal(1, (await grain.GetQuotaAsync()).InFlight);
        Assert.True(await grain.ReleaseAsync("free"));
        Assert.Equal((1000, 0, 0), ((await grain.GetQuotaAsync()).SpentNanos, (await grain.GetQuotaAsync()).ReservedNanos, (await grain.GetQuotaAsync()).InFlight));
    }

    [Fact]
    public async Task Spend_resets_at_the_start_of_a_calendar_month_utc()
    {
        var grain = await GrainAsync(new TenantLimits(null, null, null, 1000));
        await grain.AdmitAsync(new AdmissionRequest("a", 1, 900));
        await grain.SettleAsync(Settle("a", 1, 900));
        Assert.Equal("2026-11", (await grain.GetQuotaAsync()).Month);

        Clock.Advance(TimeSpan.FromMinutes(3)); // 2026-12-01 00:01 UTC
        var quota = await grain.GetQuotaAsync();
        Assert.Equal(("2026-12", 0L), (quota.Month, quota.SpentNanos));
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("b", 1, 900))).IsAdmitted);
    }

    [Fact]
    public async Task A_reservation_past_its_deadline_is_reclaimed_and_a_late_settle_still_books_once()
    {
        var grain = await GrainAsync(new TenantLimits(null, null, 1, 1000));
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("orphan", 1, 700))).IsAdmitted);

        Clock.Advance(TimeSpan.FromMilliseconds(TtlMs + 1)); // its silo died: nobody renewed it
        var quota = await grain.GetQuotaAsync();
        Assert.Equal((0, 0L), (quota.InFlight, quota.ReservedNanos));
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("next", 1, 700))).IsAdmitted);

        // A settle that arrives after all (a silo that was only slow) is booked, once.
        Assert.True(await grain.SettleAsync(Settle("orphan", 1, 200)));
        Assert.False(await grain.SettleAsync(Settle("orphan", 1, 200)));
        Assert.Equal(200, (await grain.GetQuotaAsync()).SpentNanos);
    }

    [Fact]
    public async Task Renewing_keeps_a_long_request_alive_past_its_first_deadline()
    {
        var grain = await GrainAsync(new TenantLimits(null, null, null, null));
        await grain.AdmitAsync(new AdmissionRequest("long", 1, 50));
        Clock.Advance(TimeSpan.FromMilliseconds(TtlMs / 2));
        Assert.True(await grain.RenewAsync("long"));
        Clock.Advance(TimeSpan.FromMilliseconds(TtlMs * 3 / 4));

        Assert.Equal(1, (await grain.GetQuotaAsync()).InFlight);
        Assert.False(await grain.RenewAsync("never-admitted"));
    }

    [Fact]
    public async Task Concurrent_partial_limit_changes_all_land()
    {
        var grain = await GrainAsync(new TenantLimits(1, 1, 1, 1));
        var keep = Change<int?>.Keep;
        await Task.WhenAll(
            Task.Run(async () => await grain.UpdateLimitsAsync(new TenantLimitsPatch(Change<int?>.To(10), keep, keep, Change<long?>.Keep))),
            Task.Run(async () => await grain.UpdateLimitsAsync(new TenantLimitsPatch(keep, Change<int?>.To(20), keep, Change<long?>.Keep))),
            Task.Run(async () => await grain.UpdateLimitsAsync(new TenantLimitsPatch(keep, keep, Change<int?>.To(null), Change<long?>.To(null)))));

        Assert.Equal(new TenantLimits(10, 20, null, null), (await grain.GetQuotaAsync()).Limits);
        Assert.Equal(new TenantLimits(10, 5, null, null),
            await grain.UpdateLimitsAsync(new TenantLimitsPatch(keep, Change<int?>.To(5), keep, Change<long?>.Keep)));
    }

    [Fact]
    public async Task A_paused_tenant_is_refused_until_resumed()
    {
        var grain = await GrainAsync(new TenantLimits(null, null, null, null));
        await grain.SetPausedAsync(true);
        Assert.Equal(AdmissionOutcome.Paused, (await grain.AdmitAsync(new AdmissionRequest("a", 1, 0))).Outcome);
        Assert.True((await grain.GetQuotaAsync()).Paused);

        await grain.SetPausedAsync(false);
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("a", 1, 0))).IsAdmitted);
    }

    [Fact]
    public async Task Concurrent_admissions_never_exceed_any_limit()
    {
        var grain = await GrainAsync(new TenantLimits(50, null, null, 5_000));
        var results = await Task.WhenAll(Enumerable.Range(0, 400).Select(i =>
            Task.Run(async () => await grain.AdmitAsync(new AdmissionRequest($"r{i}", 1, 100)))));

        Assert.Equal(50, results.Count(r => r.IsAdmitted));
        Assert.Equal(5_000, (await grain.GetQuotaAsync()).ReservedNanos);
    }

    [Fact]
    public async Task Concurrent_admissions_and_settles_through_one_handle_are_each_counted_once()
    {
        // Admits and settles interleave on one handle (one silo's, where it batches them): every admitted request is
        // settled, so the window counts exactly the limit, the spend exactly the settled costs, and nothing stays held.
        var grain = await GrainAsync(new TenantLimits(50, null, 8, 1_000_000));
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 300).Select(i => Task.Run(async () =>
        {
            var admission = await grain.AdmitAsync(new AdmissionRequest($"m{i}", 10, 1_000));
            var booked = admission.IsAdmitted && await grain.SettleAsync(Settle($"m{i}", 7, 300 + i));
            return (Admitted: admission.IsAdmitted, Booked: booked);
        })));

        var admitted = Enumerable.Range(0, 300).Where(i => outcomes[i].Admitted).ToArray();
        Assert.InRange(admitted.Length, 1, 50); // the 8 slots may refuse some while others are held
        Assert.All(admitted, i => Assert.True(outcomes[i].Booked, $"m{i} was admitted, so its settle books it"));
        var quota = await grain.GetQuotaAsync();
        Assert.Equal(admitted.Length, quota.RequestsInWindow);
        Assert.Equal(admitted.Sum(i => 300L + i), quota.SpentNanos);
        Assert.Equal((0, 0L), (quota.InFlight, quota.ReservedNanos));
        Assert.Equal(7L * admitted.Length, quota.TokensInWindow);
        Assert.Equal((admitted.LongLength, admitted.Sum(i => 300L + i)), await LedgerAsync(grain));
        foreach (var i in admitted)
        {
            Assert.False(await grain.SettleAsync(Settle($"m{i}", 7, 300 + i)), "settled once only");
        }
    }
}
