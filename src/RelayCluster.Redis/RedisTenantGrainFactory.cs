using RelayCluster.Core.Tenants;

namespace RelayCluster.Redis;

/// <summary>
/// Redis grains are stateless handles (all state is in Redis), so one per call is as good as a cache:
/// any silo can serve any tenant, and no silo keeps anything that could go stale.
/// </summary>
public sealed partial class RedisTenantGrainFactory(RedisConnection redis, TenantStoreOptions options, TimeProvider time) : ITenantGrainFactory
{
    private readonly RedisTenantScripts _scripts = new();

    public ITenantGrain GetTenant(string tenantId) => new RedisTenantGrain(tenantId, redis, _scripts, options, time);
}
