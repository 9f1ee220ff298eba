using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using Orleans.Clustering.Redis;
using Orleans.Configuration;
using Orleans.Persistence;
using Orleans.Storage;
using StackExchange.Redis;
using Orleans.Dashboard;
using RelayCluster.Silo.Batches;
using RelayCluster.Silo.Routing;

namespace RelayCluster.Silo.Hosting;

/// <summary>
/// Every relay process co-hosts an Orleans silo; HTTP handlers, hubs and workers reach grains through the co-hosted
/// <see cref="IGrainFactory"/>. Which providers back membership, grain state and reminders depends on the store, and
/// must be fixed before <c>Build()</c> (<c>UseOrleans</c> registers services), so it is read from the builder's
/// configuration here; everything else (port, identity) is read from the finished configuration when the silo starts.
/// </summary>
public static class OrleansHosting
{
    /// <summary>The grain storage every relay grain persists to.</summary>
    public const string GrainStorage = "relay";

    public static WebApplicationBuilder AddRelayOrleans(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<OrleansOptions>()
            .Configure<IConfiguration>((options, configuration) => OrleansOptions.Bind(options, configuration))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<OrleansOptions>, OrleansOptionsValidator>();
        services.AddSingleton(sp => SiloPort.From(sp.GetRequiredService<IOptions<OrleansOptions>>().Value));
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<SiloPort>());
        services.AddSingleton<ISiloHealth, OrleansSiloHealth>();

        var plan = new OrleansPlan(
            Cluster: builder.Configuration["Relay:Store"] == "redis",
            Dashboard: OrleansOptions.Read(builder.Configuration).Dashboard);
        services.AddSingleton(plan);

        var tracing = Telemetry.TelemetryHosting.TracesGrainCalls(builder.Configuration);
        builder.UseOrleans(silo =>
        {
            if (plan.Cluster)
            {
                UseClusterProviders(silo);
            }
            else
            {
                UseEmbeddedProviders(silo);
            }

            silo.AddBatchPlacement();
            silo.AddRouteStats();
            silo.UseBinaryGrainState();
            if (tracing)
            {
                silo.AddActivityPropagation(); // grain-call spans join the HTTP request's trace; only when traces are exported
            }

            // After the providers' own defaults, so these win.
            silo.Services.AddOptions<EndpointOptions>().Configure<SiloPort, IOptions<OrleansOptions>>((endpoints, port, relay) =>
                ConfigureEndpoints(endpoints, port, relay.Value));
            silo.Services.AddOptions<ClusterOptions>().Configure<IOptions<OrleansOptions>>((cluster, relay) =>
            {
                cluster.ServiceId = relay.Value.ServiceId;
                cluster.ClusterId = relay.Value.ClusterId;
            });
            if (plan.Dashboard)
            {
                silo.AddDashboard(dashboard =>
                {
                    dashboard.HideTrace = true; // the trace view streams the silo's logs: not for a browser tab
                    dashboard.CounterUpdateIntervalMs = 2000;
                });
            }
        });
        return builder;
    }

    /// <summary>
    /// Grain state (storage <see cref="GrainStorage"/>) in Orleans' own binary format (<see cref="OrleansGrainStorageSerializer"/>,
    /// the <c>[GenerateSerializer]</c> codecs) instead of the providers' default, Newtonsoft JSON: a chunk grain commits
    /// its state on every item's end, and JSON was the largest item of a batch's CPU profile. Registered after Orleans'
    /// defaults, so it is the one resolved; the memory and Redis providers take it when their options name none.
    /// </summary>
    public static ISiloBuilder UseBinaryGrainState(this ISiloBuilder silo)
    {
        silo.Services.AddSingleton<IGrainStorageSerializer, OrleansGrainStorageSerializer>();
        return silo;
    }

    /// <summary>
    /// Embedded default: one silo on loopback, its own primary (development clustering); grain state and reminders
    /// in memory. What must survive a restart (spend, usage, admin changes) is kept by the relay's own files.
    /// </summary>
    private static void UseEmbeddedProviders(ISiloBuilder silo)
    {
        silo.UseLocalhostClustering(gatewayPort: 0); // the port is set from SiloPort in AddRelayOrleans
        silo.AddMemoryGrainStorage(GrainStorage);
        silo.UseInMemoryReminderService();
    }

    /// <summary>
    /// Cluster (<c>Relay:Store=redis</c>): every silo writes its row into the membership table on the relay's Redis
    /// (<c>Relay:Redis</c>), finds the others there and talks to them on their silo port; grain state (storage
    /// <see cref="GrainStorage"/>) and reminders live on the same Redis. Orleans opens its own connections from the same
    /// connection string (its providers own and dispose their multiplexers, so the relay's is not lent to them).
    /// Failure detection is tuned down from Orleans' ~15 s so a killed silo is declared dead within a few seconds
    /// (orleans-design.md §8.2): a probe times out after 2 s, and two missed probes make a suspicion.
    /// </summary>
    private static void UseClusterProviders(ISiloBuilder silo)
    {
        silo.UseRedisClustering(_ => { });
        silo.Services.AddOptions<RedisClusteringOptions>().Configure<IConfiguration>((redis, configuration) =>
            redis.ConfigurationOptions = OrleansRedis(configuration));
        silo.AddRedisGrainStorage(GrainStorage, (OptionsBuilder<RedisStorageOptions> storage) =>
            storage.Configure<IConfiguration>((redis, configuration) => redis.ConfigurationOptions = OrleansRedis(configuration)));
        silo.UseRedisReminderService(_ => { });
        silo.Services.AddOptions<RedisReminderTableOptions>().Configure<IConfiguration>((redis, configuration) =>
            redis.ConfigurationOptions = OrleansRedis(configuration));
        silo.Services.AddOptions<ClusterMembershipOptions>().Configure(membership =>
        {
            membership.ProbeTimeout = TimeSpan.FromSeconds(2);
            membership.NumMissedProbesLimit = 2;
        });
    }

    /// <summary>
    /// <c>Relay:Redis</c> for Orleans' providers: like the relay's own connection, it starts while Redis is down and keeps
    /// retrying (the silo is not Active, and <c>/readyz</c> says 503, until it has joined).
    /// </summary>
    private static ConfigurationOptions OrleansRedis(IConfiguration configuration)
    {
        var options = ConfigurationOptions.Parse(configuration["Relay:Redis"]
            ?? throw new InvalidOperationException("Relay:Redis must be set (host:port) when Relay:Store is redis."));
        options.AbortOnConnectFail = false;
        return options;
    }

    /// <summary>
    /// Where this silo listens, which is what it tells the others: loopback embedded, and by default in the cluster
    /// (several silos on one machine); a container sets its own address (<c>Relay:Orleans:AdvertisedAddress</c>, an IP or
    /// a host name resolved at start), and the silo port is open on that address only.
    /// </summary>
    private static void ConfigureEndpoints(EndpointOptions endpoints, SiloPort port, OrleansOptions relay)
    {
        var advertised = AdvertisedAddress(relay.AdvertisedAddress);
        endpoints.AdvertisedIPAddress = advertised;
        endpoints.SiloPort = port.Value;
        endpoints.GatewayPort = 0; // every client is co-hosted: no gateway
    }

    internal static IPAddress AdvertisedAddress(string? configured)
    {
        if (string.IsNullOrWhiteSpace(configured))
        {
            return IPAddress.Loopback;
        }

        if (IPAddress.TryParse(configured, out var address))
        {
            return address;
        }

        try
        {
            return Dns.GetHostAddresses(configured).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
                ?? throw new OptionsValidationException(OrleansOptions.AdvertisedAddressKey, typeof(OrleansOptions),
                    [$"{OrleansOptions.AdvertisedAddressKey} '{configured}' has no IPv4 address."]);
        }
        catch (SocketException ex)
        {
            throw new OptionsValidationException(OrleansOptions.AdvertisedAddressKey, typeof(OrleansOptions),
                [$"{OrleansOptions.AdvertisedAddressKey} '{configured}' does not resolve: {ex.Message}"]);
        }
    }
}

/// <summary>What <see cref="OrleansHosting.AddRelayOrleans"/> decided before the host was built.</summary>
public sealed record OrleansPlan(bool Cluster, bool Dashboard);

/// <summary>Whether this process's Orleans silo is active (the readiness probe).</summary>
public interface ISiloHealth
{
    bool IsActive { get; }
}

internal sealed class OrleansSiloHealth(ISiloStatusOracle oracle) : ISiloHealth
{
    public bool IsActive => oracle.CurrentStatus == SiloStatus.Active;
}
