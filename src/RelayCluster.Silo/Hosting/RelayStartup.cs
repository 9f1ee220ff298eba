using RelayCluster.Core.Auth;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Silo.Hosting;

/// <summary>
/// Before the silo serves: restores each tenant's spend of the current month from the usage log (so a
/// restart loses no spend), then says how to use the relay. On stop: flushes the usage log.
/// </summary>
internal sealed partial class RelayStartup(
    RelayOptions options, TenantDirectory tenants, ITenantGrainFactory grains, IUsageLedger ledger, TimeProvider time, ILogger<RelayStartup> logger)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var month = Money.MonthOf(time.GetUtcNow());
        foreach (var (tenantId, spent) in ledger.SpentByTenant(month))
        {
            await grains.GetTenant(tenantId).RestoreSpentAsync(month, spent);
        }

        Log.Started(logger, options.Store, tenants.All.Count(), string.Join(", ", options.Models.Keys));
        if (options.DemoTenantCreated)
        {
            Log.DemoKey(logger, options.DemoKey!);
        }

        if (options.AdminKeyGenerated)
        {
            Log.GeneratedAdminKey(logger, options.AdminKey!);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => ledger.FlushAsync(cancellationToken);

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "RelayCluster silo started: store={Store}, tenants={Tenants}, models={Models}")]
        public static partial void Started(ILogger logger, string store, int tenants, string models);

        [LoggerMessage(Level = LogLevel.Warning, Message = "No tenants configured: demo tenant 'demo' created with key {Key}")]
        public static partial void DemoKey(ILogger logger, string key);

        [LoggerMessage(Level = LogLevel.Warning, Message = "No Relay:AdminKey configured: generated admin key {Key} for this run")]
        public static partial void GeneratedAdminKey(ILogger logger, string key);
    }
}
