using RelayCluster.Core.Tenants;
using RelayCluster.Silo.Alerts;

namespace RelayCluster.Silo.Tenants;

/// <summary>What a silo needs to host tenant grains and hand out their handles: a journal, the tenants' clock, the factory.</summary>
public static class TenantGrainServices
{
    /// <summary>
    /// Registers <see cref="OrleansTenantGrainFactory"/> as <see cref="ITenantGrainFactory"/>, the journal the grains commit
    /// to, and the tenants' clock (the host's <see cref="TimeProvider"/>, under <see cref="TenantGrain.ClockKey"/>).
    /// <see cref="TenantStoreOptions"/> must be registered too.
    /// </summary>
    public static IServiceCollection AddTenantGrains(this IServiceCollection services, Func<IServiceProvider, ITenantJournal> journal)
    {
        services.AddSingleton(journal);
        services.AddBudgetAlerts();
        Console.Live.LiveServices.AddLiveFeed(services); // the grains publish to the admin hub's feed while a console watches
        services.AddHostedService<PendingAlertsWake>();
        services.AddKeyedSingleton(TenantGrain.ClockKey, (sp, _) => sp.GetRequiredService<TimeProvider>());
        services.AddSingleton<OrleansTenantGrainFactory>();
        services.AddSingleton<ITenantGrainFactory>(sp => sp.GetRequiredService<OrleansTenantGrainFactory>());
        return services;
    }
}
