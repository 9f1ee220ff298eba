using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Telemetry;

/// <summary>
/// OTLP export over HTTP to a receiver written here (real Kestrel on loopback, counting posts per signal): traces and
/// metrics arrive once <c>Relay:Telemetry:OtlpEndpoint</c> is set, with the relay's meter and the grain-call spans in them.
/// </summary>
[Collection(TelemetryCollection.Name)]
public sealed class OtlpExportTests
{
    [Fact]
    public async Task Traces_and_metrics_are_pushed_to_the_configured_otlp_endpoint()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        using var host = new RelayHost(RelayHost.SimulatorSettings(
            ("Relay:Tenants:t:Keys:0", "sk-otlp-test-key"),
            ("Relay:Telemetry:OtlpEndpoint", receiver.BaseUrl), ("Relay:Telemetry:OtlpProtocol", "http/protobuf"),
            // OpenTelemetry's own settings, read from configuration: export often enough for a test.
            ("OTEL_METRIC_EXPORT_INTERVAL", "200"), ("OTEL_BSP_SCHEDULE_DELAY", "100")));
        using var client = host.ClientFor("sk-otlp-test-key");

        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("traced")));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        // Protobuf carries names as plain UTF-8: the relay's meter, the HTTP span's route, the grain call's span source.
        var metrics = await Eventually.WaitAsync(() => Task.FromResult(receiver.Text("/v1/metrics")), t => t.Contains("relay.requests", StringComparison.Ordinal));
        Assert.Contains("relay.requests", metrics, StringComparison.Ordinal);
        Assert.Contains("RelayCluster", metrics, StringComparison.Ordinal);
        var traces = await Eventually.WaitAsync(() => Task.FromResult(receiver.Text("/v1/traces")),
            t => t.Contains("Microsoft.Orleans", StringComparison.Ordinal) && t.Contains("/v1/chat/completions", StringComparison.Ordinal));
        Assert.Contains("/v1/chat/completions", traces, StringComparison.Ordinal);
        Assert.Contains("Microsoft.Orleans", traces, StringComparison.Ordinal);
    }

    /// <summary>
    /// A collector that accepts connections and never answers (the worst case: no quick refusal): exports run off the
    /// request path, so calls are served as fast as ever and none fails.
    /// </summary>
    [Fact]
    public async Task A_collector_that_never_answers_neither_fails_nor_slows_requests()
    {
        using var blackHole = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        blackHole.Start(); // the kernel completes the handshakes; nobody reads
        var endpoint = $"http://127.0.0.1:{((IPEndPoint)blackHole.LocalEndpoint).Port}";
        using var host = new RelayHost(RelayHost.SimulatorSettings(
            ("Relay:Tenants:t:Keys:0", "sk-otlp-blackhole-key"), ("Relay:Telemetry:OtlpEndpoint", endpoint),
            ("OTEL_METRIC_EXPORT_INTERVAL", "100"), ("OTEL_BSP_SCHEDULE_DELAY", "50")));
        using var client = host.ClientFor("sk-otlp-blackhole-key");

        var slowest = TimeSpan.Zero;
        for (var i = 0; i < 40; i++)
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat($"unexported {i}", stream: i % 2 == 0)));
            await response.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var took = System.Diagnostics.Stopwatch.GetElapsedTime(started);
            slowest = took > slowest ? took : slowest;
        }

        // An export waiting on the collector would hold a call for its timeout (10 s); the simulator answers in milliseconds.
        Assert.True(slowest < TimeSpan.FromSeconds(2), $"slowest call {slowest.TotalMilliseconds} ms");
    }

    /// <summary>
    /// A budget webhook's URL is its receiver's secret (a Slack webhook's path): with traces exported, its POST must leave
    /// no <c>url.full</c> in any span, and <c>/metrics</c> must not name it either.
    /// </summary>
    [Fact]
    public async Task A_budget_webhooks_secret_url_is_in_no_exported_span_nor_metric()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var webhook = await WebhookReceiver.StartAsync();
        using var host = new RelayHost(RelayHost.SimulatorSettings(
            ("Relay:Models:pricey:Provider", "sim"), ("Relay:Models:pricey:InputPerMTok", "100"), ("Relay:Models:pricey:OutputPerMTok", "100"),
            ("Relay:Telemetry:OtlpEndpoint", receiver.BaseUrl), ("Relay:Telemetry:OtlpProtocol", "http/protobuf"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "200"), ("OTEL_BSP_SCHEDULE_DELAY", "100")));
        using var admin = host.ClientFor(RelayHost.AdminKey);
        var tenant = "ot" + Guid.NewGuid().ToString("N")[..8];
        using var created = await admin.PostAsJsonAsync("/admin/tenants", new
        {
            id = tenant, monthly_budget_usd = 0.05m, alert_threshold = 0.3, pause_threshold = 0, alert_webhook_url = webhook.Url,
        });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var client = host.ClientFor((string)(await created.Content.ReadFromJsonAsync<JsonObject>())!["key"]!["key"]!);
        for (var sent = 0; webhook.Delivered.Count == 0; sent++)
        {
            Assert.True(sent < 40, "the alert threshold was never crossed");
            using var chat = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("hi", extra: new { model = "pricey", max_tokens = 16 })));
            if (chat.StatusCode != HttpStatusCode.OK)
            {
                break; // the budget is spent: the threshold was crossed on the way
            }
        }

        await Eventually.WaitAsync(() => Task.FromResult(webhook.Delivered.Count), n => n > 0);

        // A request made after the webhook's POST ended: once its span is exported, the webhook's would have been too.
        // It carries a token in its query, as a SignalR connection does (access_token): the value must not be exported.
        var marker = "/v1/models/marker-" + Guid.NewGuid().ToString("N");
        var queryToken = "qt" + Guid.NewGuid().ToString("N");
        using (await client.GetAsync(marker + "?access_token=" + queryToken))
        {
        }

        var traces = await Eventually.WaitAsync(() => Task.FromResult(receiver.Text("/v1/traces")), t => t.Contains(marker, StringComparison.Ordinal));
        Assert.Contains(marker, traces, StringComparison.Ordinal);
        // The receiver runs in this process, so the host's ASP.NET Core instrumentation traces its side (route and all):
        // what must be missing is the silo's client span, whose url.full is the webhook's URL.
        Assert.DoesNotContain(webhook.Url, traces, StringComparison.Ordinal);
        Assert.DoesNotContain(queryToken, traces, StringComparison.Ordinal);

        // Likewise the receiver's own http.server.* series name its route; no other series may carry the secret.
        var leaking = (await MetricsTests.ScrapeAsync(admin)).Samples
            .Where(s => !s.Name.StartsWith("http_server_", StringComparison.Ordinal)
                && s.Labels.Values.Any(v => v.Contains(WebhookReceiver.Secret, StringComparison.Ordinal)))
            .Select(s => s.Name);
        Assert.Empty(leaking);
    }

    /// <summary>Accepts OTLP/HTTP posts and keeps their bodies by path.</summary>
    private sealed class OtlpReceiver : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly ConcurrentDictionary<string, ConcurrentQueue<byte[]>> _posts = new(StringComparer.Ordinal);

        private OtlpReceiver(WebApplication app) => _app = app;

        public string BaseUrl { get; private set; } = "";

        /// <summary>Every body posted to <paramref name="path"/>, as Latin-1 text (for substring checks on protobuf).</summary>
        public string Text(string path) =>
            _posts.TryGetValue(path, out var bodies) ? string.Join("\n", bodies.Select(b => Encoding.Latin1.GetString(b))) : "";

        public static async Task<OtlpReceiver> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            var receiver = new OtlpReceiver(app);
            app.MapPost("/v1/{signal}", async (HttpContext context) =>
            {
                using var body = new MemoryStream();
                await context.Request.Body.CopyToAsync(body);
                receiver._posts.GetOrAdd(context.Request.Path.Value!, _ => new ConcurrentQueue<byte[]>()).Enqueue(body.ToArray());
                context.Response.ContentType = "application/x-protobuf";
            });
            await app.StartAsync();
            receiver.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return receiver;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
