namespace RelayCluster.Core.Tenants;

/// <summary>
/// One tenant's rate-limit windows, concurrency slots and budget. Each method is one atomic turn over
/// that tenant's state only; shaped like an Orleans grain interface (async, keyed by string).
/// </summary>
public interface ITenantGrain
{
    /// <summary>Checks every window, takes a concurrency slot and reserves the worst-case cost, or refuses.</summary>
    ValueTask<Admission> AdmitAsync(AdmissionRequest request);

    /// <summary>Books actual usage and frees the reservation and slot. False if the request was already settled.</summary>
    ValueTask<bool> SettleAsync(Settlement settlement);

    ValueTask<QuotaSnapshot> GetQuotaAsync();

    /// <summary>Replaces the tenant's limits; windows, slots and spend carry over.</summary>
    ValueTask SetLimitsAsync(TenantLimits limits);

    /// <summary>Sets the spend of the current month, used once at start-up to restore it from the usage log.</summary>
    ValueTask RestoreSpentAsync(string month, long spentNanos);
}

/// <summary>Gets the grain of a tenant; the store decides where its state lives.</summary>
public interface ITenantGrainFactory
{
    ITenantGrain GetTenant(string tenantId);
}
