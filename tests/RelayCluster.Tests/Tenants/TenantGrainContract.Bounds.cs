using RelayCluster.Core.Tenants;

namespace RelayCluster.Tests.Tenants;

/// <summary>
/// The grain's own bounds: whatever a caller computed (an overflowed product, a negative cost), a reservation
/// out of range is refused in the grain's turn and changes nothing, and a settlement can neither refund spend
/// nor push a counter past the bounds.
/// </summary>
public abstract partial class TenantGrainContract
{
    public static TheoryData<long, long, double> OutOfRange => new()
    {
        { -134_217_728, 1, 1.0 },                                  // the wrapped max_tokens × n of the report
        { 1, -147_640_000_000, 1.0 },                              // a negative hold: "free money"
        { long.MaxValue, 1, 1.0 },
        { 1, long.MaxValue, 1.0 },
        { ReservationLimits.MaxTokens + 1, 0, 1.0 },
        { 0, ReservationLimits.MaxNanos + 1, 1.0 },
        { 10, 10, 0.0 },                                           // a share of nothing
        { 10, 10, 1.5 },
        { 10, 10, double.NaN },
    };

    [Theory]
    [MemberData(nameof(OutOfRange))]
    public async Task A_reservation_out_of_range_is_refused_and_changes_nothing(long tokens, long nanos, double share)
    {
        var grain = await GrainAsync(new TenantLimits(100, 1_000_000, 10, 1_000_000));
        var before = await grain.GetQuotaAsync();

        var refused = await grain.AdmitAsync(new AdmissionRequest("hostile", tokens, nanos, share));

        Assert.Equal(AdmissionOutcome.ReservationOutOfRange, refused.Outcome);
        var after = await grain.GetQuotaAsync();
        Assert.Equal((before.RequestsInWindow, before.TokensInWindow, before.InFlight, before.ReservedNanos, before.SpentNanos),
            (after.RequestsInWindow, after.TokensInWindow, after.InFlight, after.ReservedNanos, after.SpentNanos));
        Assert.False(await grain.SettleAsync(Settle("hostile", 1, 1)), "nothing was reserved, so there is nothing to settle");

        // The budget still holds for honest requests: the refused one bought nothing.
        Assert.Equal(AdmissionOutcome.BudgetExceeded, (await grain.AdmitAsync(new AdmissionRequest("honest", 10, 1_000_001))).Outcome);
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("fits", 10, 1_000_000))).IsAdmitted);
    }

    [Fact]
    public async Task The_bounds_themselves_are_admitted()
    {
        var grain = await GrainAsync(TenantLimits.Unlimited);
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("max", ReservationLimits.MaxTokens, ReservationLimits.MaxNanos))).IsAdmitted);
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("zero", 0, 0))).IsAdmitted);
        Assert.Equal(ReservationLimits.MaxNanos, (await grain.GetQuotaAsync()).ReservedNanos);
    }

    [Theory]
    [InlineData(-5_000_000_000, -1_000_000_000, 0, 0)]                          // negative usage refunds nothing
    [InlineData(long.MaxValue, long.MaxValue, ReservationLimits.MaxTokens, ReservationLimits.MaxNanos)]
    public async Task A_settlement_is_clamped_to_the_bounds(long tokens, long cost, long bookedTokens, long bookedNanos)
    {
        var grain = await GrainAsync(TenantLimits.Unlimited);
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("s", 10, 100))).IsAdmitted);

        Assert.True(await grain.SettleAsync(Settle("s", tokens, cost)));

        var quota = await grain.GetQuotaAsync();
        Assert.Equal(0, quota.ReservedNanos);
        Assert.Equal(0, quota.InFlight);
        Assert.Equal(bookedNanos, quota.SpentNanos);
        Assert.Equal(bookedTokens, quota.TokensInWindow);
    }
}
