using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace RelayCluster.Silo.Telemetry;

/// <summary>
/// OpenTelemetry for a silo: metrics always (scraped at <c>GET /metrics</c>, see <see cref="MetricsGate"/>), pushed over
/// OTLP with traces only when an endpoint is configured (<see cref="TelemetryPlan"/>).
/// <code>
///  meters: RelayCluster (RelayMetrics) · Microsoft.Orleans · ASP.NET Core (http.server.*, kestrel.*, signalr.*,
///          aspnetcore.diagnostics.*) · HttpClient (http.client.*, dns.*: the upstream calls) · System.Runtime (GC, thread pool, CPU)
///  measured cost (closed loop, c=20): 7–8 µs of silo CPU per request over no meters (bench/metrics/run.sh: 95 vs 87),
///  about 1 µs of it the relay's own meter, ~3 ASP.NET Core/HttpClient/runtime, ~2 Orleans (dropping Orleans' messaging
///  counters and the active-request gauges by view saved nothing measurable)
///  traces (OTLP only): ASP.NET Core · HttpClient · Microsoft.Orleans.Runtime/.Application (grain calls, joined to
///          the HTTP span by the silo's activity propagation)
/// </code>
/// </summary>
public static class TelemetryHosting
{
    public const string MetricsPath = "/metrics";

    /// <summary>Registers the relay's meter and the OpenTelemetry providers; throws for an unusable setting.</summary>
    public static WebApplicationBuilder AddRelayTelemetry(this WebApplicationBuilder builder)
    {
        var plan = TelemetryPlan.Read(builder.Configuration);
        var services = builder.Services;
        services.AddSingleton(plan);

        // Upstream calls carry the trace context only when traces are exported (see UpstreamTraceContext).
        services.AddSingleton(new RelayCluster.Upstreams.UpstreamTraceContext(plan.Otlp));
        RelayMetrics.AddTo(services);

        var telemetry = services.AddOpenTelemetry().ConfigureResource(resource => resource.AddService("relaycluster"));
        telemetry.WithMetrics(metrics =>
        {
            // ASP.NET Core's and HttpClient's meters by name rather than AddAspNetCoreInstrumentation(), which adds routing's
            // per-request match counter too (no use to a dashboard, and a cost on every request).
            metrics.AddMeter(RelayMetrics.MeterName, "Microsoft.Orleans", "System.Runtime",
                    "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.Http.Connections",
                    "Microsoft.AspNetCore.Diagnostics", "System.Net.Http", "System.Net.NameResolution")
                .AddView(instrument => RelayMetrics.Stream(instrument, plan.MaxSeriesPerMetric))
                .AddPrometheusExporter();
            if (plan.Otlp)
            {
                metrics.AddOtlpExporter(exporter => plan.Configure(exporter, "metrics"));
            }
        });

        // No tracer provider at all without an endpoint: no listener, so ASP.NET Core, HttpClient and Orleans create no activities.
        if (plan.Otlp)
        {
            telemetry.WithTracing(tracing => tracing
                .AddSource("Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application")
                .AddAspNetCoreInstrumentation(aspnet => aspnet.Filter = IsTraced)
                .AddHttpClientInstrumentation(http => http.FilterHttpRequestMessage = request => !Alerts.AlertWebhook.CarriesSecretUrl(request))
                .AddOtlpExporter(exporter => plan.Configure(exporter, "traces")));
        }

        return builder;
    }

    /// <summary>Requests worth a trace: not the scrapes and probes that arrive every few seconds.</summary>
    private static bool IsTraced(HttpContext context) =>
        !(context.Request.Path.StartsWithSegments(MetricsPath) || context.Request.Path.StartsWithSegments("/healthz")
            || context.Request.Path.StartsWithSegments("/readyz"));

    /// <summary>Whether grain calls should carry the trace context (only when traces are exported).</summary>
    public static bool TracesGrainCalls(IConfiguration configuration) => TelemetryPlan.Read(configuration).Otlp;

    /// <summary>Maps <c>GET /metrics</c> (Prometheus text), behind <see cref="MetricsGate"/> (added in the middleware pipeline).</summary>
    public static WebApplication MapRelayMetrics(this WebApplication app)
    {
        app.MapPrometheusScrapingEndpoint(MetricsPath);
        return app;
    }
}
