using System.Collections.Concurrent;
using System.Net;
using System.Text;
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
