using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Orleans.Dashboard;
using RelayCluster.Core.Auth;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Files;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Routing;
using RelayCluster.Core.Tenants;
using RelayCluster.Silo.Api;
using RelayCluster.Silo.Batches;
using RelayCluster.Silo.Console;
using RelayCluster.Silo.Http;
using RelayCluster.Silo.Relay;
using RelayCluster.Silo.Streams;
using RelayCluster.Core.Streams;
using RelayCluster.Upstreams;

namespace RelayCluster.Silo.Hosting;

public static class RelayServices
{
    public static IServiceCollection AddRelay(this IServiceCollection services)
    {
        services.AddOptions<RelayOptions>()
            .BindConfiguration(RelayOptions.SectionName)
            .PostConfigure(RelayOptionsDefaults.Apply)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<RelayOptions>, RelayOptionsValidator>();
        services.AddSingleton<IValidateOptions<RelayOptions>, AdminKeyValidator>();
        services.AddSingleton<IValidateOptions<RelayOptions>, ConfigurationValuesValidator>();
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<RelayOptions>>().Value);

        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<ConfiguredTenants>();
        services.AddSingleton<TenantCache>();
        services.AddSingleton<TenantAdmin>();

        // Subscribe tokens are signed with the cluster's own random key (shared through the store), never with
        // anything derived from the admin key: browsers hold tokens, so their key can be attacked offline.
        TokenSecretsSync.AddTokenSecrets(services);
        services.AddSignalR(hubs => Microsoft.AspNetCore.SignalR.HubOptionsExtensions.AddFilter<HubFailures>(hubs)).AddHubOptions<CompletionsHub>(_ => { });
        services.AddSingleton<HubFailures>();
        // A completion started over the hub may be as large as an HTTP body (SignalR's default is 32 KB).
        services.AddOptions<Microsoft.AspNetCore.SignalR.HubOptions<CompletionsHub>>()
            .Configure<RelayOptions>((hub, relay) => hub.MaximumReceiveMessageSize = relay.Requests.MaxBodyBytes);
        services.AddSingleton<ModelRouter>();
        services.AddSingleton<UpstreamProviders>();
        services.AddSingleton<RelayCluster.Upstreams.Resilience.IProviderHealthSource>(sp => sp.GetRequiredService<UpstreamProviders>());
        services.AddSingleton<Routing.RouteTable>();
        services.AddHostedService(sp => sp.GetRequiredService<Routing.RouteTable>());
        services.AddSingleton<Routing.ShadowLog>();
        services.AddSingleton<Routing.ShadowTraffic>();
        services.AddSingleton(sp => new TenantStoreOptions(sp.GetRequiredService<RelayOptions>().ReservationSeconds * 1000L));
        services.AddStores();
        services.AddFileStore();

        services.AddSingleton<ModelCalls>();
        services.AddBatchGrains();
        services.AddSingleton<RelayPipeline>();
        services.AddSingleton<ReservationRenewer>();
        services.AddHostedService(sp => sp.GetRequiredService<ReservationRenewer>());
        services.AddHostedService<RelayStartup>();
        Console.Live.LiveServices.AddAdminLive(services); // the admin hub's live feed (after the silo: it joins the feed grain)

        // Kestrel's body limit is the relay's (raised only for authenticated uploads, see RequestBodyLimits).
        services.AddOptions<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>().Configure<RelayOptions>(RequestBodyLimits.Configure);
        services.Configure<FormOptions>(f => f.MultipartBodyLengthLimit = long.MaxValue);
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, SiloJsonContext.Default));
        return services;
    }

    public static WebApplication UseRelayHttp(this WebApplication app)
    {
        // SignalR registers the authorization services (AddConnections), and WebApplication then puts UseAuthorization()
        // in front of every request unless the pipeline says it has it. No endpoint of the relay carries authorization
        // metadata (the key, token and admin gates below decide), so it would only cost an async frame per request
        // (issue 16's profile: ~1 % of an embedded silo's CPU). The key is the one UseAuthorization() itself sets and
        // WebApplicationBuilder checks; an endpoint with [Authorize] added later fails loudly without the middleware.
        ((IApplicationBuilder)app).Properties["__AuthorizationMiddlewareSet"] = true;
        app.UseMiddleware<RequestIdMiddleware>();
        app.UseExceptionHandler(new ExceptionHandlerOptions { ExceptionHandler = UnhandledError.WriteAsync });
        app.UseStatusCodePages(InvalidUrl.WriteAsync);
        app.UseMiddleware<DotSegmentGuard>();
        app.UseMiddleware<BadRequestBodies>();
        app.UseMiddleware<AdminDashboardGate>();
        app.UseMiddleware<Telemetry.MetricsGate>();
        app.UseMiddleware<TenantAuthenticationMiddleware>();
        app.UseMiddleware<StreamsHubGate>();
        app.UseMiddleware<Console.Live.AdminHubGate>();
        app.UseMiddleware<EscapedSlashInModel>();
        return app;
    }

    public static WebApplication MapRelayApis(this WebApplication app)
    {
        app.MapChatCompletionsApi();
        app.MapEmbeddingsApi();
        app.MapModelsApi();
        app.MapAdminApi();
        app.MapStreamsApi();
        app.MapFilesApi();
        app.MapBatchesApi();
        app.MapSyncBatchApi();
        app.MapDemoApi();
        app.MapConsoleApi(); // /admin/ and its assets: public, they hold no data
        app.MapHub<StreamsHub>(StreamsHubGate.Path);
        app.MapHub<CompletionsHub>("/hubs/completions");
        Console.Live.LiveServices.MapAdminHub(app);
        app.MapGet("/healthz", () => Results.Text("ok"));
        Telemetry.TelemetryHosting.MapRelayMetrics(app); // behind the admin key or the scrape token: see MetricsGate
        // Ready once this process's Orleans silo is active (not while it starts or stops) and the store answers.
        app.MapGet("/readyz", async (IStoreHealth store, ISiloHealth silo) =>
            !silo.IsActive ? Results.Text("silo not active", statusCode: 503)
            : await store.IsReadyAsync() ? Results.Text("ready")
            : Results.Text("store unavailable", statusCode: 503));
        if (app.Services.GetRequiredService<OrleansPlan>().Dashboard)
        {
            app.MapOrleansDashboard(AdminDashboardGate.Path); // behind the admin key: see AdminDashboardGate
        }

        return app;
    }
}
