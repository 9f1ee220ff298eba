using RelayCluster.Core.Tenants;
#if RELAY_LUA_TENANTS || RELAY_ORLEANS_TENANTS
using RelayCluster.Redis;
#endif
#if RELAY_ORLEANS_TENANTS
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RelayCluster.Silo.Tenants;
#endif

namespace RelayCluster.Bench.Tenant;

/// <summary>
/// The one switch between tenant stores (<c>--store</c>): the tenant grains are what differ, the driver is the same.
/// <list type="bullet">
/// <item><c>lua</c>: the Redis store of today (RedisTenantGrainFactory: one Lua script a turn). Compiled only where
/// that store exists (RELAY_LUA_TENANTS, set by the project file), so this file builds before and after it goes.</item>
/// <item><c>orleans</c>: the Orleans TenantGrain in a silo hosted in this process (localhost clustering on free loopback
/// ports), committing through the product's Redis tenant journal to the same redis-server; the driver calls it through
/// the product's OrleansTenantGrainFactory, as a relay's HTTP handlers do (calls within one silo). Compiled where the
/// grain exists (RELAY_ORLEANS_TENANTS).</item>
/// </list>
/// </summary>
internal static class TenantStores
{
    public static readonly string[] Names = ["lua", "orleans", "auto"];

#if RELAY_ORLEANS_TENANTS
    private static async Task<(ITenantGrainFactory, IAsyncDisposable)> OrleansAsync(string redis)
    {
        var connection = await RedisConnection.ConnectAsync(redis);
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(TenantStoreOptions.Default);
        builder.Services.AddTenantGrains(_ => new RedisTenantJournal(connection));
        builder.UseOrleans(silo => silo.UseLocalhostClustering(siloPort: FreePort(), gatewayPort: FreePort()));
        var host = builder.Build();
        await host.StartAsync();
        return (host.Services.GetRequiredService<ITenantGrainFactory>(), new Owner(host, connection));
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class Owner(IHost host, RedisConnection connection) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await host.StopAsync();
            host.Dispose();
            await connection.DisposeAsync();
        }
    }
#endif

    /// <summary><c>auto</c>: the build's own Redis tenant store: the Orleans grain where it exists, else the Lua one.</summary>
    public static string Resolve(string store) => store != "auto" ? store :
#if RELAY_ORLEANS_TENANTS
        "orleans";
#else
        "lua";
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
#if RELAY_ORLEANS_TENANTS
            case "orleans":
                return await OrleansAsync(redis);
#endif
            default:
                throw new NotSupportedException($"The store '{store}' is not in this build (stores: {string.Join(", ", Names)}; lua only up to the Orleans TenantGrain).");
        }
    }
}
