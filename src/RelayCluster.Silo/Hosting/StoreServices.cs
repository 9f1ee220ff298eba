using RelayCluster.Core.Auth;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;
using RelayCluster.Redis;

namespace RelayCluster.Silo.Hosting;

/// <summary>Whether the silo's state store answers (the readiness probe).</summary>
public interface IStoreHealth
{
    Task<bool> IsReadyAsync();
}

/// <summary>The two stores behind the same grain and usage contracts.</summary>
internal static partial class StoreServices
{
    /// <summary>The embedded default: grains in this process, usage in JSON-lines files.</summary>
    public static void AddMemoryStore(this IServiceCollection services)
    {
        services.AddSingleton(sp => new JsonlUsageLedger(
            sp.GetRequiredService<RelayOptions>().UsageLog.Path,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<JsonlUsageLedger>>()));
        services.AddSingleton<IUsageLedger>(sp => sp.GetRequiredService<JsonlUsageLedger>());
        services.AddSingleton<IUsageReader>(sp => sp.GetRequiredService<JsonlUsageLedger>());
        services.AddSingleton<ITenantGrainFactory, MemoryTenantGrainFactory>();
        services.AddSingleton<IStoreHealth, InProcessStore>();
        services.AddHostedService<UsageLogFlusher>();
    }

    /// <summary>The cluster: every silo's grains are Lua turns on one shared Redis.</summary>
    public static void AddRedisStore(this IServiceCollection services)
    {
        services.AddSingleton(sp => RedisConnection.ConnectAsync(sp.GetRequiredService<RelayOptions>().Redis!).GetAwaiter().GetResult());
        services.AddSingleton<RedisTenantGrainFactory>();
        services.AddSingleton<ITenantGrainFactory>(sp => sp.GetRequiredService<RedisTenantGrainFactory>());
        services.AddSingleton<IUsageReader, RedisUsageLedger>();
        services.AddSingleton<IStoreHealth, RedisStoreHealth>();
        services.AddHostedService<RedisTenantSeeder>();
    }

    private sealed class InProcessStore : IStoreHealth
    {
        public Task<bool> IsReadyAsync() => Task.FromResult(true);
    }

    private sealed class RedisStoreHealth(RedisConnection redis) : IStoreHealth
    {
        public Task<bool> IsReadyAsync() => redis.PingAsync();
    }

    /// <summary>Flushes the usage log when the silo stops, so a graceful restart loses nothing.</summary>
    private sealed class UsageLogFlusher(IUsageLedger ledger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => ledger.FlushAsync(cancellationToken);
    }

    /// <summary>
    /// Gives each configured tenant its limits in Redis unless it has limits there already: the configuration
    /// seeds the store and never overwrites what an admin changed. If Redis is down at start, the silo starts
    /// anyway (failing closed) and seeds when a later start finds Redis.
    /// </summary>
    private sealed partial class RedisTenantSeeder(TenantDirectory tenants, RedisTenantGrainFactory grains, ILogger<RedisTenantSeeder> logger) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            try
            {
                foreach (var tenant in tenants.All)
                {
                    await grains.SeedAsync(tenant.Id, tenant.Limits);
                }
            }
            catch (StoreUnavailableException ex)
            {
                Log.SeedFailed(logger, ex);
            }
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        private static partial class Log
        {
            [LoggerMessage(Level = LogLevel.Error, Message = "Could not seed tenants: Redis is unavailable")]
            public static partial void SeedFailed(ILogger logger, Exception exception);
        }
    }
}
