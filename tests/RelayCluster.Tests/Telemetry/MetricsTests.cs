using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using RelayCluster.Silo.Telemetry;
using RelayCluster.Tests.Files;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Telemetry;

/// <summary>
/// <c>GET /metrics</c> over real HTTP, parsed as Prometheus text. Tenants, models and providers carry a random suffix per
/// test: every host in this process reports the <c>RelayCluster</c> meters of all hosts alive (OpenTelemetry listens by
/// meter name), so each assertion filters on names only its own traffic can produce.
/// </summary>
[Collection(TelemetryCollection.Name)]
public sealed class MetricsTests
{
    private static readonly string Suffix = Guid.NewGuid().ToString("N")[..8];
    private static readonly string TenantA = "ma" + Suffix;
    private static readonly string TenantB = "mb" + Suffix;
    private static readonly string Fast = "fast-" + Suffix;
    private static readonly string Embed = "embed-" + Suffix;
    private static readonly string Flaky = "flaky-" + Suffix;
    private static readonly string Dead = "dead-" + Suffix;
    private const string KeyA = "sk-metrics-a-7c1f0e9d";
    private const string KeyB = "sk-metrics-b-2a8b6d4c";

    [Fact]
    public async Task Counters_move_by_exactly_the_traffic_sent_and_tokens_and_cost_equal_the_ledger()
    {
        await using var upstream = await ScriptedUpstream.StartAsync();
        upstream.Answers(503, "application/json", """{"error":{"message":"overloaded","type":"server_error","code":null,"param":null}}""");
        using var files = new TempDirectory();
        using var work = new TempDirectory();
        using var host = new RelayHost(RelayHost.SimulatorSettings(
            ($"Relay:Models:{Fast}:Provider", "sim"), ($"Relay:Models:{Fast}:InputPerMTok", "0.27"), ($"Relay:Models:{Fast}:OutputPerMTok", "1.10"),
            ($"Relay:Models:{Embed}:Provider", "sim"), ($"Relay:Models:{Embed}:InputPerMTok", "0.02"),
            ($"Relay:Providers:{Dead}:Type", "openai"), ($"Relay:Providers:{Dead}:BaseUrl", upstream.BaseUrl), ($"Relay:Providers:{Dead}:ApiKey", "k"),
            ($"Relay:Providers:{Dead}:Resilience:MaxAttempts", "2"), ($"Relay:Providers:{Dead}:Resilience:BaseDelayMs", "1"),
            ($"Relay:Providers:{Dead}:Resilience:MaxDelayMs", "5"),
            ($"Relay:Models:{Flaky}:Provider", Dead), ($"Relay:Models:{Flaky}:InputPerMTok", "0.5"), ($"Relay:Models:{Flaky}:OutputPerMTok", "1"),
            ("Relay:Routes:chain:Targets:0:Model", Flaky), ("Relay:Routes:chain:Targets:1:Model", Fast),
            ($"Relay:Tenants:{TenantA}:Keys:0", KeyA), ($"Relay:Tenants:{TenantA}:Models:0", "*"),
            ($"Relay:Tenants:{TenantB}:Keys:0", KeyB), ($"Relay:Tenants:{TenantB}:RequestsPerMinute", "1"),
            ("Relay:Files:Path", files.Path), ("Relay:Batches:WorkPath", work.Path)));
        using var a = host.ClientFor(KeyA);
        using var b = host.ClientFor(KeyB);
        using var admin = host.ClientFor(RelayHost.AdminKey);
        var before = await ScrapeAsync(admin);
        Assert.Equal(0, before.Sum("relay_requests_total", ("relay_tenant", TenantA)));

        // Scrapes during the traffic: the count only grows, and never past what is sent.
        using var stop = new CancellationTokenSource();
        var during = ScrapeWhileAsync(admin, stop.Token);

        // 7 plain and 5 streamed chats, 3 embeddings, one call whose route falls back (a retry on the dead upstream first),
        // a model nobody configured, and a batch of 2; tenant b: one call, then one its RPM of 1 refuses.
        for (var i = 0; i < 7; i++)
        {
            await ExpectAsync(a, "/v1/chat/completions", Chat(Fast, $"plain {i}", stream: false), HttpStatusCode.OK);
        }

        for (var i = 0; i < 5; i++)
        {
            await ExpectAsync(a, "/v1/chat/completions", Chat(Fast, $"streamed {i}", stream: true), HttpStatusCode.OK);
        }

        for (var i = 0; i < 3; i++)
        {
            await ExpectAsync(a, "/v1/embeddings", new JsonObject { ["model"] = Embed, ["input"] = $"embed {i}" }.ToJsonString(), HttpStatusCode.OK);
        }

        await ExpectAsync(a, "/v1/chat/completions", Chat("chain", "falls back", stream: false), HttpStatusCode.OK);
        var unknownModel = "no-such-model-" + Guid.NewGuid().ToString("N");
        await ExpectAsync(a, "/v1/chat/completions", Chat(unknownModel, "who?", stream: false), HttpStatusCode.NotFound);
        var batch = await RunBatchAsync(a, Chat(Fast, "batch one", false), Chat(Fast, "batch two", false));
        Assert.Equal(("completed", 2), ((string?)batch["status"], (int)batch["request_counts"]!["completed"]!));
        await ExpectAsync(b, "/v1/chat/completions", Chat(Fast, "b first", stream: false), HttpStatusCode.OK);
        await ExpectAsync(b, "/v1/chat/completions", Chat(Fast, "b second", stream: false), HttpStatusCode.TooManyRequests);

        // Every call settled and booked (the batch books after its items commit): 7 + 5 + 3 + 1 + 2 on a, 1 on b.
        var usage = await Eventually.WaitAsync(() => host.UsageAsync(TenantA), u => (long)u["requests"]! == 18);
        Assert.Equal(18, (long)usage!["requests"]!);
        await host.WaitForIdleAsync(TenantA);
        await Eventually.WaitAsync(() => host.UsageAsync(TenantB), u => (long)u["requests"]! == 1);
        await host.WaitForIdleAsync(TenantB);

        // A plain call's answer goes out before its settle, and the exporter may answer from a cache of up to 300 ms.
        var after = (await Eventually.WaitAsync(() => ScrapeAsync(admin), s => s.Sum("relay_requests_total", ("relay_tenant", TenantA)) >= 18
            && s.Sum("relay_requests_total", ("relay_tenant", TenantB)) >= 1))!;
        await stop.CancelAsync();
        var seen = await during;

        // Requests, by the labels the traffic varied.
        double Requests(params (string, string)[] labels) => after.Sum("relay_requests_total", [("relay_tenant", TenantA), .. labels]);
        Assert.Equal(18, Requests());
        Assert.Equal(7 + 1, Requests(("relay_stream", "false"), ("gen_ai_operation_name", "chat"), ("relay_lane", "interactive"), ("relay_model", Fast),
            ("relay_provider", "sim"), ("http_response_status_code", "200"), ("relay_ending", "completed")));
        Assert.Equal(5, Requests(("relay_stream", "true"), ("relay_model", Fast)));
        Assert.Equal(3, Requests(("gen_ai_operation_name", "embeddings"), ("relay_model", Embed)));
        Assert.Equal(2, Requests(("relay_lane", "batch"), ("relay_model", Fast)));
        Assert.Equal(1, after.Sum("relay_requests_total", ("relay_tenant", TenantB)));

        // Tokens and cost equal the ledger's totals for the tenant.
        Assert.Equal((long)usage["prompt_tokens"]!, after.Sum("relay_tokens_total", ("relay_tenant", TenantA), ("gen_ai_token_type", "input")));
        Assert.Equal((long)usage["completion_tokens"]!, after.Sum("relay_tokens_total", ("relay_tenant", TenantA), ("gen_ai_token_type", "output")));
        Assert.True((long)usage["prompt_tokens"]! > 0 && (long)usage["completion_tokens"]! > 0);
        Assert.Equal((long)usage["cost_nanos"]! / 1e9, after.Sum("relay_cost_usd_total", ("relay_tenant", TenantA)), 9);

        // Histograms: one duration per settled call, a time to first token per streamed one.
        Assert.Equal(7 + 5 + 1 + 2 + 1, after.Sum("gen_ai_server_request_duration_seconds_count", ("relay_model", Fast)));
        Assert.Equal(3, after.Sum("gen_ai_server_request_duration_seconds_count", ("relay_model", Embed)));
        Assert.Equal(5, after.Sum("gen_ai_server_time_to_first_token_seconds_count", ("relay_model", Fast)));
        Assert.Equal(16, after.Sum("gen_ai_server_request_duration_seconds_bucket", ("relay_model", Fast), ("le", "+Inf")));

        // Refusals, the retry and the fallback, the breaker, the batch items.
        Assert.Equal(1, after.Sum("relay_admission_refusals_total", ("relay_tenant", TenantB), ("relay_refusal_reason", "rpm")));
        Assert.Equal(1, after.Sum("relay_admission_refusals_total", ("relay_tenant", TenantB)));
        Assert.Equal(0, after.Sum("relay_admission_refusals_total", ("relay_tenant", TenantA)));
        Assert.Equal(1, after.Sum("relay_upstream_fallbacks_total", ("relay_model", Flaky), ("relay_provider", Dead)));
        Assert.Equal(upstream.Calls, after.Sum("relay_upstream_attempts_total", ("relay_provider", Dead)));
        Assert.Equal(2, upstream.Calls);
        Assert.Equal(1, after.Sum("relay_upstream_retries_total", ("relay_provider", Dead)));
        Assert.Equal(1, after.Sum("relay_upstream_circuit_state", ("relay_provider", Dead), ("relay_circuit_state", "closed")));
        Assert.Equal(2, after.Sum("relay_batch_items_total", ("relay_tenant", TenantA), ("relay_batch_outcome", "succeeded")));

        // Scraped during the traffic: monotonic, never ahead of the traffic.
        Assert.NotEmpty(seen);
        Assert.True(seen.Zip(seen.Skip(1)).All(p => p.First <= p.Second), string.Join(",", seen));
        Assert.True(seen.Max() <= 18, string.Join(",", seen));

        // Bounded labels: the unknown model the caller made up, request ids and keys appear nowhere.
        var text = await ScrapeTextAsync(admin);
        Assert.DoesNotContain(unknownModel, text, StringComparison.Ordinal);
        Assert.DoesNotContain("req_", text, StringComparison.Ordinal);
        Assert.DoesNotContain(KeyA, text, StringComparison.Ordinal);
        Assert.DoesNotContain(unknownModel, string.Join(",", PrometheusText.Parse(text).LabelValues("relay_model")), StringComparison.Ordinal);

        // Orleans', ASP.NET Core's and the runtime's own meters are there too.
        Assert.Contains(after.Samples, s => s.Name.StartsWith("orleans_", StringComparison.Ordinal));
        Assert.Contains(after.Samples, s => s.Name.StartsWith("orleans_catalog_activation", StringComparison.Ordinal));
        Assert.Contains(after.Samples, s => s.Name.StartsWith("http_server_request_duration_seconds", StringComparison.Ordinal));
        Assert.Contains(after.Samples, s => s.Name.StartsWith("dotnet_gc_", StringComparison.Ordinal));

        // ... but not Orleans' per-message ones (each grain call sends local messages and looks up the directory).
        Assert.DoesNotContain(after.Samples, s => s.Name.StartsWith("orleans_messaging_sent_local", StringComparison.Ordinal));
        Assert.DoesNotContain(after.Samples, s => s.Name.StartsWith("orleans_directory_lookups", StringComparison.Ordinal));
        Assert.DoesNotContain(after.Samples, s => s.Name.StartsWith("orleans_messaging_processing", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("orleans-messaging-sent-messages-size", true)]
    [InlineData("orleans-messaging-received-header-size", true)]
    [InlineData("orleans-messaging-sent-local", true)]
    [InlineData("orleans-messaging-processing-dispatcher-received", true)]
    [InlineData("orleans-directory-lookups-cache-issued", true)]
    [InlineData("orleans-messaging-rejected", false)]
    [InlineData("orleans-messaging-expired", false)]
    [InlineData("orleans-catalog-activations", false)]
    [InlineData("orleans-directory-partition-size", false)]
    public void Only_orleans_per_message_instruments_are_dropped(string name, bool dropped)
    {
        using var orleans = new System.Diagnostics.Metrics.Meter("Microsoft.Orleans");
        using var other = new System.Diagnostics.Metrics.Meter("Not.Orleans");

        Assert.Equal(dropped, RelayMetrics.IsOrleansPerMessage(orleans.CreateCounter<long>(name)));
        Assert.False(RelayMetrics.IsOrleansPerMessage(other.CreateCounter<long>(name)));
        Assert.Equal(dropped, ReferenceEquals(RelayMetrics.Stream(orleans.CreateCounter<long>(name), 20_000), OpenTelemetry.Metrics.MetricStreamConfiguration.Drop));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Metrics_take_the_admin_key_or_the_scrape_token_unless_opened(bool allowAnonymous)
    {
        const string scrapeToken = "scrape-token-5e0c93b1d2f7a8c46b";
        using var host = new RelayHost(RelayHost.SimulatorSettings(
            ("Relay:Tenants:t:Keys:0", KeyA), ("Relay:Metrics:ScrapeToken", scrapeToken),
            ("Relay:Metrics:AllowAnonymous", allowAnonymous ? "true" : null)));

        async Task<HttpResponseMessage> GetAsync(string? key)
        {
            using var client = host.CreateClient();
            using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
            if (key is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            }

            return await client.SendAsync(request);
        }

        foreach (var key in new[] { RelayHost.AdminKey, scrapeToken })
        {
            using var open = await GetAsync(key);
            Assert.Equal(HttpStatusCode.OK, open.StatusCode);
            Assert.Equal("text/plain", open.Content.Headers.ContentType?.MediaType);
            Assert.NotEmpty(PrometheusText.Parse(await open.Content.ReadAsStringAsync()).Samples);
        }

        foreach (var key in new[] { null, KeyA, "wrong-" + scrapeToken })
        {
            using var response = await GetAsync(key);
            if (allowAnonymous)
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                continue;
            }

            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            var error = (await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!;
            Assert.Equal("invalid_api_key", (string?)error["code"]);
            Assert.Equal("invalid_request_error", (string?)error["type"]);
        }
    }

    [Theory]
    [InlineData("tiny-tok")]
    [InlineData("REPLACE-ME-scrape-token-0123456789")]
    public void A_weak_or_placeholder_scrape_token_stops_the_silo_at_start(string token)
    {
        var error = Assert.ThrowsAny<Exception>(() =>
        {
            using var host = new RelayHost(RelayHost.SimulatorSettings(("Relay:Metrics:ScrapeToken", token)));
        });
        var message = Flatten(error);
        Assert.Contains("Relay:Metrics:ScrapeToken is too weak", message, StringComparison.Ordinal);
        Assert.DoesNotContain(token, message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_scrape_token_that_is_also_a_tenants_key_stops_the_silo_at_start()
    {
        // Else that tenant's key would open /metrics, every tenant's traffic and spend.
        const string shared = "shared-scrape-and-tenant-key-9d41c7a2e0";
        var error = Assert.ThrowsAny<Exception>(() =>
        {
            using var host = new RelayHost(RelayHost.SimulatorSettings(("Relay:Tenants:t:Keys:0", shared), ("Relay:Metrics:ScrapeToken", shared)));
            using var client = host.CreateClient();
        });
        var message = Flatten(error);
        Assert.Contains("Relay:Metrics:ScrapeToken equals a key of tenant t", message, StringComparison.Ordinal);
        Assert.DoesNotContain(shared, message, StringComparison.Ordinal);
    }

    private static string Flatten(Exception error) => error.InnerException is { } inner ? error.Message + " " + Flatten(inner) : error.Message;

    internal static async Task<PrometheusText> ScrapeAsync(HttpClient admin) => PrometheusText.Parse(await ScrapeTextAsync(admin));

    internal static async Task<string> ScrapeTextAsync(HttpClient admin)
    {
        using var response = await admin.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    private static async Task<List<double>> ScrapeWhileAsync(HttpClient admin, CancellationToken stop)
    {
        var seen = new List<double>();
        while (!stop.IsCancellationRequested)
        {
            seen.Add((await ScrapeAsync(admin)).Sum("relay_requests_total", ("relay_tenant", TenantA)));
            try
            {
                await Task.Delay(50, stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return seen;
    }

    private static string Chat(string model, string content, bool stream) =>
        new JsonObject
        {
            ["model"] = model,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = content }),
            ["stream"] = stream,
        }.ToJsonString();

    private static async Task ExpectAsync(HttpClient client, string path, string body, HttpStatusCode status)
    {
        using var response = await client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{path}: {(int)response.StatusCode} {text}");
    }

    private static async Task<JsonObject> RunBatchAsync(HttpClient client, params string[] bodies)
    {
        var lines = bodies.Select((body, i) => new JsonObject
        {
            ["custom_id"] = $"item-{i}", ["method"] = "POST", ["url"] = "/v1/chat/completions", ["body"] = JsonNode.Parse(body),
        }.ToJsonString());
        using var upload = await client.PostAsync("/v1/files", FilesHost.Upload(Encoding.UTF8.GetBytes(string.Join('\n', lines) + "\n"), "input.jsonl", "batch"));
        Assert.Equal(HttpStatusCode.OK, upload.StatusCode);
        var fileId = (string)(await upload.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        using var create = await client.PostAsync("/v1/batches",
            RelayHost.Json(new { input_file_id = fileId, endpoint = "/v1/chat/completions", completion_window = "24h" }));
        Assert.Equal(HttpStatusCode.OK, create.StatusCode);
        var id = (string)(await create.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        return (await Eventually.WaitAsync(
            async () => (await client.GetFromJsonAsync<JsonObject>($"/v1/batches/{id}"))!,
            b => (string?)b["status"] is "completed" or "failed" or "expired" or "cancelled", TimeSpan.FromSeconds(30)))!;
    }
}
