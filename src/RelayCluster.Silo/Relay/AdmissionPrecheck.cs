using RelayCluster.Core.Tenants;

namespace RelayCluster.Silo.Relay;

/// <summary>
/// A refusal found before a large body is parsed: a paused tenant, or one whose concurrency, request window or
/// budget is already full, is told so without the relay spending CPU on a body it will refuse anyway (a 4 MB body
/// of tiny messages costs most of a second to parse). It is a read of the tenant grain's state, not an admission:
/// a body that passes is still admitted, exactly, by the grain's turn after parsing. Small bodies skip it, since
/// parsing them costs less than the extra store turn.
/// </summary>
internal static class AdmissionPrecheck
{
    /// <summary>Bodies at least this large are checked first.</summary>
    public const int MinBodyBytes = 64 * 1024;

    /// <summary>A refusal that any admission would give right now, or null (also when the store cannot answer).</summary>
    public static async ValueTask<Admission?> RefusalAsync(ITenantGrain grain, double capacityShare)
    {
        QuotaSnapshot quota;
        try
        {
            quota = await grain.GetQuotaAsync();
        }
        catch (StoreUnavailableException)
        {
            return null; // the admission decides, fail-open or closed as configured
        }

        var share = new AdmissionRequest("precheck", 0, 0, capacityShare);
        var window = quota.Window;
        var limits = quota.Limits;
        if (quota.Paused)
        {
            return new Admission(AdmissionOutcome.Paused, window, TimeSpan.Zero);
        }

        if (limits.MaxConcurrent is { } maxConcurrent && quota.InFlight >= share.Share(maxConcurrent))
        {
            return new Admission(AdmissionOutcome.ConcurrencyExceeded, window, TimeSpan.FromSeconds(1));
        }

        if (limits.RequestsPerMinute is { } rpm && quota.RequestsInWindow >= share.Share(rpm))
        {
            // The wait is an upper bound (until the window is empty); the exact one needs the grain's turn.
            return new Admission(AdmissionOutcome.RequestsPerMinuteExceeded, window, window.RequestsReset);
        }

        // Every priced request reserves something, so a budget already over its limit refuses any of them.
        return limits.MonthlyBudgetNanos is { } budget && quota.SpentNanos + quota.ReservedNanos > budget
            ? new Admission(AdmissionOutcome.BudgetExceeded, window, TimeSpan.Zero)
            : null;
    }
}
