using RelayCluster.Core.Auth;
using RelayCluster.Core.Configuration;

namespace RelayCluster.Silo.Hosting;

/// <summary>
/// Says how to use the relay when it starts.
/// </summary>
internal sealed partial class RelayStartup(
    RelayOptions options, ConfiguredTenants tenants, ITenantDirectory directory, SiloPort siloPort, ILogger<RelayStartup> logger)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        Log.Started(logger, options.Store, siloPort.Value, tenants.All.Count(), string.Join(", ", options.Models.Keys));
        if (options.DemoTenantCreated)
        {
            // An admin who deleted the demo tenant left a tombstone: seeding never brings it back, so a key printed now
            // would answer 401. Say the tenant is gone instead.
            if (await directory.IsDeletedAsync(RelayOptionsDefaults.DemoTenant))
            {
                Log.DemoDeleted(logger);
            }
            else
            {
                Log.DemoKey(logger, options.DemoKey!);
            }
        }

        if (options.AdminKeyGenerated)
        {
            Log.GeneratedAdminKey(logger, options.AdminKey!);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "RelayCluster silo started: store={Store}, orleans silo port={SiloPort}, tenants={Tenants}, models={Models}")]
        public static partial void Started(ILogger logger, string store, int siloPort, int tenants, string models);

        [LoggerMessage(Level = LogLevel.Warning, Message = "No tenants configured: demo tenant 'demo' created with key {Key}")]
        public static partial void DemoKey(ILogger logger, string key);

        [LoggerMessage(Level = LogLevel.Warning, Message = "No tenants configured, and the demo tenant 'demo' was deleted by an admin: it is not "
            + "created again. Create tenants with POST /admin/tenants, or configure them under Relay:Tenants")]
        public static partial void DemoDeleted(ILogger logger);

        [LoggerMessage(Level = LogLevel.Warning, Message = "No Relay:AdminKey configured: generated admin key {Key} for this run")]
        public static partial void GeneratedAdminKey(ILogger logger, string key);
    }
}
