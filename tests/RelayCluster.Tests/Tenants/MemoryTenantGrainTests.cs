using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Tenants;

public sealed class MemoryTenantGrainTests
{
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 11, 30, 23, 59, 0, TimeSpan.Zero));

    private ITenantGrain Grain(TenantLimits limits) => new MemoryTenantGrainFactory(new FixedLimits(limits), _clock).GetTenant("acme");

    [Fact]
    public async Task Requests_per_minute_admit_exactly_the_limit_then_refuse_with_the_wait()
    {
        var grain = Grain(new TenantLimits(3, null, null, null));
        for (var i = 0; i < 3; i++)
        {
            var admitted = await grain.AdmitAsync(new AdmissionRequest($"r{i}", 10, 0));
            Assert.True(admitted.IsAdmitted);
            Assert.Equal(2 - i, admitted.Window.RequestsRemaining);
            await grain.SettleAsync(new Settlement($"r{i}", 10, 0));
        }

        _clock.Advance(TimeSpan.FromSeconds(20));
        var refused = await grain.AdmitAsync(new AdmissionRequest("r3", 10, 0));
        Assert.Equal(AdmissionOutcome.RequestsPerMinuteExceeded, refused.Outcome);
        Assert.Equal(TimeSpan.FromSeconds(40), refused.RetryAfter);

        _clock.Advance(TimeSpan.FromSeconds(40));
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("r4", 10, 0))).IsAdmitted);
    }

    [Fact]
    public async Task Tokens_per_minute_count_the_estimate_until_settle_corrects_it()
    {
        var grain = Grain(new TenantLimits(null, 1000, null, null));
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("a", 900, 0))).IsAdmitted);
        Assert.Equal(AdmissionOutcome.TokensPerMinuteExceeded, (await grain.AdmitAsync(new AdmissionRequest("b", 200, 0))).Outcome);

        await grain.SettleAsync(new Settlement("a", 150, 0)); // the request used far less than its worst case

        Assert.True((await grain.AdmitAsync(new AdmissionRequest("b", 200, 0))).IsAdmitted);
        Assert.Equal(350, (await grain.GetQuotaAsync()).TokensInWindow);
    }

    [Fact]
    public async Task A_request_larger_than_the_token_limit_is_refused_as_never_fitting()
    {
        var grain = Grain(new TenantLimits(null, 1000, null, null));
        var refused = await grain.AdmitAsync(new AdmissionRequest("big", 1001, 0));
        Assert.Equal(AdmissionOutcome.RequestLargerThanTokenLimit, refused.Outcome);
    }

    [Fact]
    public async Task Concurrency_slots_are_taken_at_admission_and_freed_at_settle()
    {
        var grain = Grain(new TenantLimits(null, null, 2, null));
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("a", 1, 0))).IsAdmitted);
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("b", 1, 0))).IsAdmitted);
        Assert.Equal(AdmissionOutcome.ConcurrencyExceeded, (await grain.AdmitAsync(new AdmissionRequest("c", 1, 0))).Outcome);

        await grain.SettleAsync(new Settlement("a", 1, 0));
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("c", 1, 0))).IsAdmitted);
        Assert.Equal(2, (await grain.GetQuotaAsync()).InFlight);
    }

    [Fact]
    public async Task Budget_holds_reservations_and_books_only_the_actual_cost()
    {
        var grain = Grain(new TenantLimits(null, null, null, 1000));
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("a", 1, 600))).IsAdmitted);
        Assert.Equal(AdmissionOutcome.BudgetExceeded, (await grain.AdmitAsync(new AdmissionRequest("b", 1, 500))).Outcome);

        await grain.SettleAsync(new Settlement("a", 1, 100));
        var quota = await grain.GetQuotaAsync();
        Assert.Equal(100, quota.SpentNanos);
        Assert.Equal(0, quota.ReservedNanos);
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("b", 1, 500))).IsAdmitted);
    }

    [Fact]
    public async Task Settling_twice_books_once()
    {
        var grain = Grain(new TenantLimits(null, null, null, 1000));
        await grain.AdmitAsync(new AdmissionRequest("a", 1, 300));

        Assert.True(await grain.SettleAsync(new Settlement("a", 1, 200)));
        Assert.False(await grain.SettleAsync(new Settlement("a", 1, 200)));
        Assert.Equal(200, (await grain.GetQuotaAsync()).SpentNanos);
    }

    [Fact]
    public async Task Spend_resets_at_the_start_of_a_calendar_month_utc()
    {
        var grain = Grain(new TenantLimits(null, null, null, 1000));
        await grain.AdmitAsync(new AdmissionRequest("a", 1, 900));
        await grain.SettleAsync(new Settlement("a", 1, 900));
        Assert.Equal("2026-11", (await grain.GetQuotaAsync()).Month);

        _clock.Advance(TimeSpan.FromMinutes(2)); // 2026-12-01 00:01 UTC
        var quota = await grain.GetQuotaAsync();
        Assert.Equal("2026-12", quota.Month);
        Assert.Equal(0, quota.SpentNanos);
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("b", 1, 900))).IsAdmitted);
    }

    [Fact]
    public async Task Restored_spend_counts_against_the_budget()
    {
        var grain = Grain(new TenantLimits(null, null, null, 1000));
        await grain.RestoreSpentAsync(Money.MonthOf(_clock.GetUtcNow()), 950);
        Assert.Equal(AdmissionOutcome.BudgetExceeded, (await grain.AdmitAsync(new AdmissionRequest("a", 1, 100))).Outcome);
    }

    [Fact]
    public async Task Concurrent_admissions_never_exceed_any_limit()
    {
        var grain = Grain(new TenantLimits(50, null, null, 5_000));
        var results = await Task.WhenAll(Enumerable.Range(0, 400).Select(i =>
            Task.Run(async () => await grain.AdmitAsync(new AdmissionRequest($"r{i}", 1, 100)))));

        Assert.Equal(50, results.Count(r => r.IsAdmitted)); // RPM binds first: 50 × 100 = 5,000 = budget
        Assert.Equal(5_000, (await grain.GetQuotaAsync()).ReservedNanos);
    }

    private sealed class FixedLimits(TenantLimits limits) : ITenantLimitsSource
    {
        public TenantLimits LimitsOf(string tenantId) => limits;
    }
}
