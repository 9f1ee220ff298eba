using RelayCluster.Core.Tenants;

namespace RelayCluster.Core.Auth;

/// <summary>Creating a tenant, the one way both configuration seeding and the admin API do it.</summary>
public static class TenantCreation
{
    /// <summary>
    /// Creates the tenant unless it exists. The grain gets its limits (and is unpaused, in case the id belonged
    /// to a deleted tenant) before the directory publishes the tenant and its keys: once a key works, the
    /// limits are already in force. False if the tenant existed; it is left exactly as it was.
    /// </summary>
    public static async Task<bool> CreateAsync(
        ITenantDirectory directory, ITenantGrainFactory grains, TenantEntry tenant, IReadOnlyList<NewApiKey> keys, TenantLimits limits)
    {
        if (await directory.GetAsync(tenant.Id) is not null)
        {
            return false;
        }

        var grain = grains.GetTenant(tenant.Id);
        await grain.SetLimitsAsync(limits);
        await grain.SetPausedAsync(false);

        // Another silo may create the same id at the same moment; only one directory write wins.
        return await directory.CreateAsync(tenant, keys);
    }
}
