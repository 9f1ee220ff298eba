using RelayCluster.Core.Auth;
using RelayCluster.Core.Batches;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Files;
using RelayCluster.Core.Streams;
using RelayCluster.Core.Tenants;
using RelayCluster.Silo.Batches;

namespace RelayCluster.Silo.Hosting;

/// <summary>What forgetting a deleted tenant takes, whichever store is in use.</summary>
internal static partial class StoreServices
{
    /// <summary>The embedded directory's journal: beside the usage log, the embedded store's other durable state
    /// (JSON lines, but not named <c>*.jsonl</c>, which is the usage log's).</summary>
    private static string TenantJournalPath(RelayOptions options) => Path.Combine(options.UsageLog.Path, "tenants.journal");

    /// <summary>The embedded tenant grains' limits and pause, beside the directory's journal.</summary>
    private static string TenantSettingsPath(RelayOptions options) => Path.Combine(options.UsageLog.Path, "tenant-settings.journal");

    /// <summary>
    /// <see cref="TenantPurge"/> over every store that keeps data under a tenant id: batches first (their grains stop
    /// their chunks) and their part files, then streams, files, and the tenant grain (with the usage totals) last. A store a
    /// test replaced with one that cannot purge is skipped.
    /// </summary>
    private static void AddTenantPurge(this IServiceCollection services) =>
        services.AddSingleton(sp => new TenantPurge(new object?[]
        {
            sp.GetRequiredService<IBatches>(),
            sp.GetService<PartFiles>() is { } parts ? new PartFilesPurge(parts) : null,
            sp.GetRequiredService<IStreamChannelFactory>(),
            sp.GetService<IFileStore>(),
            sp.GetRequiredService<ITenantGrainFactory>(),
        }.OfType<ITenantDataPurge>()));
}
