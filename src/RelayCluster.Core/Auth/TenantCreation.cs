using RelayCluster.Core.Tenants;

namespace RelayCluster.Core.Auth;

/// <summary>Creating a tenant, the one way both configuration seeding and the admin API do it.</summary>
public static class TenantCreation
{
    /// <summary>
    /// Creates the tenant unless it exists (an explicit create, the admin API's). The grain gets its limits (and is
    /// unpaused, in case the id belonged to a deleted tenant) before the directory publishes the tenant and its keys:
    /// once a key works, the limits are already in force. If the id belonged to a tenant before (deleted, or known to
    /// the journal), that tenant's data is purged first, and the new tenant gets <paramref name="tenant"/>'s incarnation.
    /// False if the tenant existed; it is left exactly as it was.
    /// </summary>
    public static async Task<bool> CreateAsync(
        ITenantDirectory directory, ITenantGrainFactory grains, TenantEntry tenant, IReadOnlyList<NewApiKey> keys, TenantLimits limits,
        TenantPurge? purge = null)
    {
        if (await directory.GetAsync(tenant.Id) is not null)
        {
            return false;
        }

        if (purge is not null && (await directory.IsDeletedAsync(tenant.Id) || await directory.KnownIncarnationAsync(tenant.Id) is not null))
        {
            await purge.PurgeAsync(tenant.Id);
            if (await directory.GetAsync(tenant.Id) is not null)
            {
                return false; // another silo created the id while this one purged: its grain is not this create's to set
            }
        }

        await StartGrainAsync(grains, tenant, limits);

        // Another silo may create the same id at the same moment; only one directory write wins.
        return await directory.CreateAsync(tenant, keys);
    }

    /// <summary>
    /// Creates a tenant of the configuration file unless it exists or was deleted (its tombstone stands). Keys revoked
    /// before are left out. A tenant the embedded journal knows keeps its incarnation, so its data stays its own.
    /// </summary>
    public static async Task<bool> CreateConfiguredAsync(
        ITenantDirectory directory, ITenantGrainFactory grains, TenantEntry tenant, IReadOnlyList<NewApiKey> keys, TenantLimits limits)
    {
        if (await directory.GetAsync(tenant.Id) is not null || await directory.IsDeletedAsync(tenant.Id))
        {
            return false;
        }

        tenant = tenant with { Incarnation = await directory.KnownIncarnationAsync(tenant.Id) ?? tenant.Incarnation };
        await StartGrainAsync(grains, tenant, limits);
        return await directory.CreateConfiguredAsync(tenant, keys);
    }

    private static async Task StartGrainAsync(ITenantGrainFactory grains, TenantEntry tenant, TenantLimits limits)
    {
        if (grains is ITenantIncarnations incarnations)
        {
            await incarnations.BeginIncarnationAsync(tenant.Id, tenant.Incarnation);
        }

        var grain = grains.GetTenant(tenant.Id);
        await grain.SetLimitsAsync(limits);
        await grain.SetPausedAsync(false);
    }
}
