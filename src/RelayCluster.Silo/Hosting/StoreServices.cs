using Microsoft.Extensions.Options;
using RelayCluster.Core.Auth;
using RelayCluster.Core.Batches;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Routing;
using RelayCluster.Core.Streams;
using RelayCluster.Core.Tenants;
using RelayCluster.Redis;
using RelayCluster.Silo.Streams;
using RelayCluster.Silo.Tenants;

namespace RelayCluster.Silo.Hosting;

/// <summary>Whether the silo's state store answers (the readiness probe).</summary>
public interface IStoreHealth
{
    Task<bool> IsReadyAsync();
}

/// <summary>The two stores behind the same grain and usage contracts.</summary>
internal static partial class StoreServices
{
    /// <summary>
    /// Registers both stores and picks one from the validated options when first needed, so the choice
    /// sees the whole configuration (every source, including ones added after Program's first lines).
    /// </summary>
    public static void AddStores(this IServiceCollection services)
    {
        // The embedded default: grains in this process, usage in JSON-lines files.
        services.AddSingleton(sp => new JsonlUsageLedger(
            sp.GetRequiredService<RelayOptions>().UsageLog.Path,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<JsonlUsageLedger>>()));
        services.AddSingleton<IUsageLedger>(sp => sp.GetRequiredService<JsonlUsageLedger>());
        // Deletes, revoked keys and incarnations outlive the process in a journal beside the usage log.
        services.AddSingleton(sp => new MemoryTenantDirectory(TenantJournalPath(sp.GetRequiredService<RelayOptions>())));
        // Stream retention and follower limits, Relay:Streams (MaxEntries, SubscriberBuffer, ...).
        services.AddOptions<StreamSettings>().BindConfiguration("Relay:Streams").Validate(s => { s.Validate(); return true; }).ValidateOnStart();
        // Both stores: every stream is a StreamChannelGrain; this silo's followers of one stream share one reader of it.
        services.AddSingleton<IStreamChannelFactory>(sp => new GrainStreamChannelFactory(
            sp.GetRequiredService<IGrainFactory>(), sp.GetRequiredService<IOptions<StreamSettings>>().Value, sp.GetRequiredService<TimeProvider>()));

        // The cluster: tenant state, the directory, routes and batches on one shared Redis.
        services.AddSingleton(sp => RedisConnection.ConnectAsync(sp.GetRequiredService<RelayOptions>().Redis!).GetAwaiter().GetResult());
        services.AddSingleton(sp => RedisTenantDirectory.StartAsync(sp.GetRequiredService<RedisConnection>()).GetAwaiter().GetResult());

        // Both stores: every tenant is a TenantGrain; its journal is this process (embedded) or Redis (cluster).
        services.AddTenantGrains(sp => IsRedis(sp)
            ? new RedisTenantJournal(sp.GetRequiredService<RedisConnection>())
            : new EmbeddedTenantJournal(
                sp.GetRequiredService<IUsageLedger>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<MemoryTenantDirectory>().IncarnationOf,
                TenantSettingsPath(sp.GetRequiredService<RelayOptions>())));
        services.AddSingleton<ITenantDirectory>(sp => IsRedis(sp)
            ? sp.GetRequiredService<RedisTenantDirectory>()
            : sp.GetRequiredService<MemoryTenantDirectory>());
        services.AddSingleton<IUsageReader>(sp => IsRedis(sp)
            ? new RedisUsageLedger(sp.GetRequiredService<RedisConnection>())
            : sp.GetRequiredService<JsonlUsageLedger>());
        services.AddSingleton<MemoryRouteStore>();
        services.AddSingleton(sp => RedisRouteStore.StartAsync(sp.GetRequiredService<RedisConnection>()).GetAwaiter().GetResult());
        services.AddSingleton<IRouteStore>(sp => IsRedis(sp)
            ? sp.GetRequiredService<RedisRouteStore>()
            : sp.GetRequiredService<MemoryRouteStore>());
        services.AddSingleton<IShadowStore>(sp => IsRedis(sp)
            ? new RedisShadowStore(sp.GetRequiredService<RedisConnection>())
            : new MemoryShadowStore());
        services.AddSingleton<IStoreHealth>(sp => IsRedis(sp)
            ? new RedisStoreHealth(sp.GetRequiredService<RedisConnection>())
            : new InProcessStore());
        services.AddTenantPurge();
        services.AddHostedService<StoreLifetime>();
    }

    private static bool IsRedis(IServiceProvider services) => services.GetRequiredService<RelayOptions>().Store == "redis";

    private sealed class InProcessStore : IStoreHealth
    {
        public Task<bool> IsReadyAsync() => Task.FromResult(true);
    }

    private sealed class RedisStoreHealth(RedisConnection redis) : IStoreHealth
    {
        public Task<bool> IsReadyAsync() => redis.PingAsync();
    }

    /// <summary>
    /// Store work at start and stop. At start, the configured tenants seed the store: a tenant it does not
    /// know yet is created with its keys and limits, one it knows is left alone, so an admin's changes
    /// survive restarts. If Redis is down at start the silo starts anyway, failing closed, and the next
    /// start seeds. At stop, the embedded usage log is flushed, so a graceful restart loses nothing.
    /// </summary>
    private sealed partial class StoreLifetime(
        IServiceProvider services, ConfiguredTenants tenants, ITenantDirectory directory, ITenantGrainFactory grains, TimeProvider time,
        ILogger<StoreLifetime> logger) : IHostedService
    {
        // Resolved at start: by the time a host stops, its service provider may already be disposed.
        private IUsageLedger? _usageLog;

        public async Task StartAsync(CancellationToken cancellationToken)
        {
            if (!IsRedis(services))
            {
                _usageLog = services.GetRequiredService<IUsageLedger>();
            }

            try
            {
                await tenants.SeedAsync(directory, grains, time.GetUtcNow().ToUnixTimeSeconds());
            }
            catch (StoreUnavailableException ex)
            {
                Log.SeedFailed(logger, ex);
            }
        }

        public Task StopAsync(CancellationToken cancellationToken) => _usageLog?.FlushAsync(cancellationToken) ?? Task.CompletedTask;

        private static partial class Log
        {
            [LoggerMessage(Level = LogLevel.Error, Message = "Could not seed tenants: Redis is unavailable")]
            public static partial void SeedFailed(ILogger logger, Exception exception);
        }
    }
}
