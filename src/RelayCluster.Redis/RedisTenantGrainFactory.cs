using RelayCluster.Core.Tenants;

namespace RelayCluster.Redis;

/// <summary>
/// Redis grains are stateless handles (all state is in Redis), so one per call is as good as a cache:
/// any silo can serve any tenant, and no silo keeps anything that could go stale.
/// </summary>
public sealed class RedisTenantGrainFactory(RedisConnection redis, TenantStoreOptions options, TimeProvider time) : ITenantGrainFactory
{
    private readonly RedisTenantScripts _scripts = new();

    public ITenantGrain GetTenant(string tenantId) => Grain(tenantId);

    /// <summary>Gives a tenant its configured limits unless it has limits already (set earlier, or by an admin).</summary>
    public ValueTask<bool> SeedAsync(string tenantId, TenantLimits limits) => Grain(tenantId).SeedAsync(limits);

    private RedisTenantGrain Grain(string tenantId) => new(tenantId, redis, _scripts, options, time);
}
