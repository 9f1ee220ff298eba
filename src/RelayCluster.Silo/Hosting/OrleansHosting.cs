using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Dashboard;

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

            // After the providers' own defaults, so these win.
            silo.Services.AddOptions<EndpointOptions>().Configure<SiloPort>((endpoints, port) =>
            {
                endpoints.SiloPort = port.Value;
                endpoints.GatewayPort = 0; // every client is co-hosted: no gateway
            });
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
    /// Cluster (<c>Relay:Store=redis</c>). The next step puts membership, grain state and reminders on Redis here
    /// (<c>UseRedisClustering</c>, <c>AddRedisGrainStorage(GrainStorage)</c>, <c>UseRedisReminderService</c>, endpoints
    /// advertised on the container address, silo port 11111 unless set). Until those providers are in, each silo
    /// process is a one-silo cluster on loopback, like the embedded default, and the grains' state stays on the
    /// relay's Redis store as before.
    /// </summary>
    private static void UseClusterProviders(ISiloBuilder silo) => UseEmbeddedProviders(silo);
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
