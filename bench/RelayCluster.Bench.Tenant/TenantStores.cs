using RelayCluster.Core.Tenants;
#if RELAY_LUA_TENANTS
using RelayCluster.Redis;
#endif

namespace RelayCluster.Bench.Tenant;

/// <summary>
/// The one switch between tenant stores (<c>--store</c>): the tenant grains are what differ, the driver is the same.
/// <list type="bullet">
/// <item><c>lua</c>: the Redis store of today (RedisTenantGrainFactory: one Lua script a turn). Compiled only where
/// that store exists (RELAY_LUA_TENANTS, set by the project file), so this file builds before and after it goes.</item>
/// <item><c>orleans</c>: the Orleans TenantGrain in an in-process silo with its grain storage on the same redis-server;
/// not on this branch yet. To add it: host a silo here (<c>Host.CreateApplicationBuilder().UseOrleans(silo =>
/// silo.UseLocalhostClustering() + the product's grain storage "relay" on Redis)</c>), start it, and return the
/// product's OrleansTenantGrainFactory over its IGrainFactory, with the host as the disposable.</item>
/// </list>
/// </summary>
internal static class TenantStores
{
    public static readonly string[] Names = ["lua", "orleans", "auto"];

    /// <summary><c>auto</c>: the build's own Redis tenant store, the Lua one where it still exists, else the Orleans grain.</summary>
    public static string Resolve(string store) => store != "auto" ? store :
#if RELAY_LUA_TENANTS
        "lua";
#else
        "orleans";
#endif

    public static async Task<(ITenantGrainFactory Factory, IAsyncDisposable Owner)> OpenAsync(string store, string redis)
    {
        switch (store)
        {
#if RELAY_LUA_TENANTS
            case "lua":
                var connection = await RedisConnection.ConnectAsync(redis);
                return (new RedisTenantGrainFactory(connection, TenantStoreOptions.Default, TimeProvider.System), connection);
#endif
            case "orleans":
                await Task.CompletedTask;
                throw new NotSupportedException("not yet: the Orleans TenantGrain (OrleansTenantGrainFactory) is not in this build");
            default:
                throw new NotSupportedException($"The store '{store}' is not in this build (stores: {string.Join(", ", Names)}; lua only up to the Orleans TenantGrain).");
        }
    }
}
