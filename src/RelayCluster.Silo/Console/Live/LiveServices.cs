using Microsoft.Extensions.DependencyInjection.Extensions;

namespace RelayCluster.Silo.Console.Live;

/// <summary>The admin hub and the live feed behind it: services, the token endpoint's signer, the gate, the hub's route.</summary>
internal static class LiveServices
{
    public static IServiceCollection AddAdminLive(this IServiceCollection services)
    {
        services.AddSingleton<AdminTokens>();
        AddLiveFeed(services);
        services.AddSingleton<AdminWatchers>();
        services.AddSingleton<LiveFeedSiloHost>();
        services.AddHostedService(sp => sp.GetRequiredService<LiveFeedSiloHost>());
        return services;
    }

    /// <summary>The feed the tenant and batch grains publish to (also where grains are hosted without the relay's HTTP side, as in tests).</summary>
    public static IServiceCollection AddLiveFeed(IServiceCollection services)
    {
        services.TryAddSingleton<LiveFeed>();
        return services;
    }

    public static WebApplication MapAdminHub(this WebApplication app)
    {
        app.MapHub<AdminHub>(AdminHubGate.Path);
        return app;
    }
}
