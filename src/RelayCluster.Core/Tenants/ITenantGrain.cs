namespace RelayCluster.Core.Tenants;

/// <summary>
/// One tenant's rate-limit windows, concurrency slots and budget. Each method is one atomic turn over
/// that tenant's state only; shaped like an Orleans grain interface (async, keyed by string).
/// </summary>
public interface ITenantGrain
{
    /// <summary>Checks every window, takes a concurrency slot and reserves the worst-case cost, or refuses.</summary>
    ValueTask<Admission> AdmitAsync(AdmissionRequest request);

    /// <summary>
    /// Books actual usage, appends its record to the ledger, and frees the reservation and slot. A request
    /// whose reservation expired and was reclaimed is still booked (usage is never dropped). False if the
    /// request was already settled: nothing is booked twice.
    /// </summary>
    ValueTask<bool> SettleAsync(Settlement settlement);

    /// <summary>
    /// Frees a reservation without booking anything, for work already booked under another request (a batch
    /// item run twice after a takeover). False if there was no such reservation.
    /// </summary>
    ValueTask<bool> ReleaseAsync(string requestId);

    /// <summary>Pushes a live request's reservation deadline out again (long streams call this).</summary>
    ValueTask<bool> RenewAsync(string requestId);

    ValueTask<QuotaSnapshot> GetQuotaAsync();

    /// <summary>
    /// The refusal any admission with this capacity share would get right now, or null; changes nothing. Lets a caller
    /// refuse a large body before parsing it, by the grain's own rules.
    /// </summary>
    ValueTask<Admission?> PrecheckAsync(double capacityShare);

    /// <summary>Replaces the tenant's limits; windows, slots and spend carry over.</summary>
    ValueTask SetLimitsAsync(TenantLimits limits);

    /// <summary>Changes only the limits the patch sets, in one turn, and returns the limits in force after it.</summary>
    ValueTask<TenantLimits> UpdateLimitsAsync(TenantLimitsPatch patch);

    /// <summary>
    /// A paused tenant is refused at admission; requests in flight finish. An admin's pause; a resume also lifts a pause
    /// the pause threshold made.
    /// </summary>
    ValueTask SetPausedAsync(bool paused);

    /// <summary>The budget thresholds in force, the pause's cause, and the month's crossings with their webhook deliveries.</summary>
    ValueTask<BudgetAlerts> GetAlertsAsync();
}

/// <summary>Gets the grain of a tenant; the store decides where its state lives.</summary>
public interface ITenantGrainFactory
{
    ITenantGrain GetTenant(string tenantId);
}
