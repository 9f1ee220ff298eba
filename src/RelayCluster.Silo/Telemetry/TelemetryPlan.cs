using OpenTelemetry.Exporter;
using RelayCluster.Core.Configuration;

namespace RelayCluster.Silo.Telemetry;

/// <summary>
/// What the silo exports, read once from configuration before the host is built (exporters are fixed at start).
/// <list type="bullet">
/// <item><c>Relay:Metrics:AllowAnonymous</c> (bool, default false): <c>GET /metrics</c> without any key.</item>
/// <item><c>Relay:Metrics:ScrapeToken</c> (a secret held to the admin key's rules, <see cref="AdminKeyPolicy"/>): a bearer
/// token that opens <c>/metrics</c> and nothing else, so a scraper need not hold the admin key (which always works too).</item>
/// <item><c>Relay:Metrics:MaxSeriesPerMetric</c> (integer, 2,000 to 1,000,000, default 20,000): how many label sets each
/// of the relay's metrics labelled by tenant keeps. OpenTelemetry's default of 2,000 is reached by ~150 tenants with a
/// few models; past the limit, new label sets are folded into one <c>otel_metric_overflow</c> series and per-tenant
/// counts stop matching the ledger. The slots are allocated at start, ~85 bytes each: 8 instruments x 20,000 is ~14 MB
/// per exporter (Prometheus, and OTLP when on).</item>
/// <item><c>Relay:Telemetry:OtlpEndpoint</c> (absolute URL) with <c>Relay:Telemetry:OtlpProtocol</c> (<c>grpc</c>, the
/// default, or <c>http/protobuf</c>), or OpenTelemetry's own <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> (and its
/// <c>_TRACES_</c>/<c>_METRICS_</c> variants and <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>): traces and metrics are pushed
/// there. Without either, nothing is pushed and no trace is recorded.</item>
/// </list>
/// </summary>
/// <param name="OtlpEndpoint">The <c>Relay:Telemetry</c> endpoint, or null to leave the exporter to the <c>OTEL_*</c> variables.</param>
internal sealed record TelemetryPlan(bool AllowAnonymous, string? ScrapeToken, bool Otlp, Uri? OtlpEndpoint, OtlpExportProtocol OtlpProtocol)
{
    /// <summary>The label sets kept per relay metric (<c>Relay:Metrics:MaxSeriesPerMetric</c>).</summary>
    public int MaxSeriesPerMetric { get; init; } = DefaultMaxSeriesPerMetric;

    public const int DefaultMaxSeriesPerMetric = 20_000;

    /// <summary>Reads the plan; throws <see cref="InvalidOperationException"/> naming the key for a value it cannot use.</summary>
    public static TelemetryPlan Read(IConfiguration configuration)
    {
        var anonymous = configuration["Relay:Metrics:AllowAnonymous"] is { Length: > 0 } open
            ? bool.TryParse(open, out var allow) ? allow : throw Invalid("Relay:Metrics:AllowAnonymous", "true or false")
            : false;
        var token = configuration["Relay:Metrics:ScrapeToken"] is { Length: > 0 } t ? t : null;
        if (token is not null && AdminKeyPolicy.Weakness(token) is { } weakness)
        {
            // Held to the admin key's rules everywhere (never echoed): a forgotten placeholder would open the metrics.
            throw new InvalidOperationException(
                $"Relay:Metrics:ScrapeToken is too weak because {weakness}. It must be a random secret of at least {AdminKeyPolicy.MinLength} characters, for example from `openssl rand -hex 24`.");
        }

        if (token is not null && TenantHolding(configuration, token) is { } tenant)
        {
            // That tenant's key would open every tenant's metrics (never echoed, as the admin key's own check does).
            throw new InvalidOperationException(
                $"Relay:Metrics:ScrapeToken equals a key of tenant {tenant}; the scrape token must be a secret of its own.");
        }

        Uri? endpoint = null;
        if (configuration["Relay:Telemetry:OtlpEndpoint"] is { Length: > 0 } url
            && (!Uri.TryCreate(url, UriKind.Absolute, out endpoint) || endpoint.Scheme is not ("http" or "https")))
        {
            throw Invalid("Relay:Telemetry:OtlpEndpoint", "an absolute http(s) URL");
        }

        var protocol = configuration["Relay:Telemetry:OtlpProtocol"] switch
        {
            null or "" or "grpc" => OtlpExportProtocol.Grpc,
            "http/protobuf" => OtlpExportProtocol.HttpProtobuf,
            _ => throw Invalid("Relay:Telemetry:OtlpProtocol", "grpc or http/protobuf"),
        };
        var fromEnvironment = new[] { "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT" }
            .Any(key => !string.IsNullOrWhiteSpace(configuration[key]));
        var maxSeries = configuration["Relay:Metrics:MaxSeriesPerMetric"] is { Length: > 0 } series
            ? int.TryParse(series, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var max) && max is >= 2_000 and <= 1_000_000
                ? max
                : throw Invalid("Relay:Metrics:MaxSeriesPerMetric", "an integer from 2000 to 1000000")
            : DefaultMaxSeriesPerMetric;
        return new TelemetryPlan(anonymous, token, endpoint is not null || fromEnvironment, endpoint, protocol) { MaxSeriesPerMetric = maxSeries };
    }

    /// <summary>
    /// Points an OTLP exporter at <see cref="OtlpEndpoint"/> when that is set (else the <c>OTEL_*</c> variables apply).
    /// Over HTTP the exporter posts to an endpoint set in code as it is, so the signal's path is added here, as the
    /// variables would add it: <c>/v1/traces</c> or <c>/v1/metrics</c>.
    /// </summary>
    public void Configure(OtlpExporterOptions exporter, string signal)
    {
        if (OtlpEndpoint is not { } endpoint)
        {
            return;
        }

        exporter.Protocol = OtlpProtocol;
        exporter.Endpoint = OtlpProtocol == OtlpExportProtocol.HttpProtobuf
            ? new Uri(endpoint.AbsoluteUri.TrimEnd('/') + "/v1/" + signal)
            : endpoint;
    }

    /// <summary>The configured tenant (<c>Relay:Tenants:{id}:Keys</c>) holding <paramref name="token"/> as a key, or null.</summary>
    private static string? TenantHolding(IConfiguration configuration, string token) =>
        configuration.GetSection("Relay:Tenants").GetChildren()
            .FirstOrDefault(t => t.GetSection("Keys").GetChildren().Any(k => string.Equals(k.Value, token, StringComparison.Ordinal)))?.Key;

    private static InvalidOperationException Invalid(string key, string expected) => new($"{key} must be {expected}.");
}
