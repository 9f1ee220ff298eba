using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>The openai provider against the standalone MockUpstream over loopback HTTP.</summary>
public sealed class OpenAiProviderTests : IAsyncLifetime
{
    private const string Key = "sk-remote-key";
    private MockUpstreamHost _upstream = null!;
    private RelayHost _host = null!;

    public async Task InitializeAsync()
    {
        _upstream = await MockUpstreamHost.StartAsync("--api-key", "upstream-secret");
        _host = new RelayHost(Settings(_upstream.BaseUrl, "upstream-secret"));
    }

    public async Task DisposeAsync()
    {
        _host.Dispose();
        await _upstream.DisposeAsync();
    }

    private static Dictionary<string, string?> Settings(string baseUrl, string apiKey) => RelayHost.SimulatorSettings(
        ("Relay:Providers:remote:Type", "openai"),
        ("Relay:Providers:remote:BaseUrl", baseUrl),
        ("Relay:Providers:remote:ApiKey", apiKey),
        ("Relay:Models:remote-fast:Provider", "remote"),
        ("Relay:Models:remote-fast:UpstreamModel", "mock-fast"),
        ("Relay:Models:remote-fast:InputPerMTok", "1"),
        ("Relay:Models:remote-embed:Provider", "remote"),
        ("Relay:Tenants:t1:Keys:0", Key));

    private static string RemoteChat(string content, bool stream, object? extra = null) =>
        ((string)RelayHost.Chat(content, stream, extra)).Replace("\"mock-fast\"", "\"remote-fast\"", StringComparison.Ordinal);

    [Fact]
    public async Task Plain_and_streamed_answers_match_the_in_process_simulator()
    {
        using var client = _host.ClientFor(Key);
        var remote = await (await client.PostAsync("/v1/chat/completions", RelayHost.Json(RemoteChat("compare me", stream: true)))).Content.ReadAsStringAsync();
        var local = await (await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("compare me", stream: true)))).Content.ReadAsStringAsync();

        Assert.Equal(SseText.Content(local), SseText.Content(remote));
        Assert.Equal("mock-fast", (string?)SseText.JsonChunks(remote)[0]["model"]); // the upstream name went upstream
        // The relay asked MockUpstream for usage (to meter it) but the caller did not, so no usage reached the caller.
        Assert.DoesNotContain(SseText.JsonChunks(remote), c => c["usage"] is JsonObject);
        var usage = await _host.UsageAsync("t1");
        Assert.Equal(0, (long)usage["estimated_requests"]!);
        Assert.Equal(16, (long)usage["by_model"]!["remote-fast"]!["completion_tokens"]!);
    }

    [Fact]
    public async Task Upstream_errors_keep_their_status_and_retry_after()
    {
        using var client = _host.ClientFor(Key);
        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RemoteChat("[[sim error=429 retry_after=7]]", stream: false)));
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal("7", response.Headers.GetValues("Retry-After").Single());
        Assert.Equal(0, (long)(await _host.WaitForIdleAsync("t1"))["spent_nanos"]!);
    }

    [Fact]
    public async Task A_dropped_upstream_connection_is_reported_as_truncated()
    {
        using var client = _host.ClientFor(Key);
        // Paced, because a reset connection makes the kernel discard bytes not yet read: a drop within
        // microseconds of the headers is seen (correctly) as an unreachable upstream instead.
        var body = await (await client.PostAsync("/v1/chat/completions", RelayHost.Json(RemoteChat("[[sim drop=2 interval=50]]", stream: true)))).Content.ReadAsStringAsync();
        Assert.Equal("upstream_truncated", (string?)JsonNode.Parse(SseText.DataPayloads(body)[^1])!["error"]!["code"]);
        await _host.WaitForIdleAsync("t1");
    }

    [Fact]
    public async Task Embeddings_in_base64_decode_to_the_float_answer()
    {
        using var client = _host.ClientFor(Key);
        var asFloat = (await (await client.PostAsync("/v1/embeddings", RelayHost.Json(new { model = "remote-embed", input = new[] { "a b", "c" }, encoding_format = "float" })))
            .Content.ReadFromJsonAsync<JsonObject>())!;
        var asBase64 = (await (await client.PostAsync("/v1/embeddings", RelayHost.Json(new { model = "remote-embed", input = new[] { "a b", "c" }, encoding_format = "base64", dimensions = 64 })))
            .Content.ReadFromJsonAsync<JsonObject>())!;

        Assert.Equal("list", (string?)asFloat["object"]);
        Assert.Equal(3, (int)asFloat["usage"]!["prompt_tokens"]!); // the simulator counts words: "a b" and "c"
        for (var i = 0; i < 2; i++)
        {
            var floats = asFloat["data"]![i]!["embedding"]!.AsArray().Select(v => (float)v!).ToArray();
            var decoded = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(Convert.FromBase64String((string)asBase64["data"]![i]!["embedding"]!)).ToArray();
            Assert.Equal(64, floats.Length);
            Assert.Equal(floats, decoded);
        }
    }

    [Fact]
    public async Task A_rejected_upstream_key_is_the_relays_failure_not_the_callers()
    {
        using var host = new RelayHost(Settings(_upstream.BaseUrl, "wrong-secret"));
        using var client = host.ClientFor(Key);
        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RemoteChat("x", stream: false)));
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("upstream_auth_failed", (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["code"]);
    }

    [Fact]
    public async Task An_unreachable_upstream_gets_a_502_and_frees_the_slot()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var closedPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // nothing listens there now: connection refused

        using var host = new RelayHost(Settings($"http://127.0.0.1:{closedPort}/v1", "k"));
        using var client = host.ClientFor(Key);
        foreach (var stream in new[] { false, true })
        {
            using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RemoteChat("x", stream)));
            Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
            Assert.Equal("upstream_unavailable", (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["code"]);
        }

        await host.WaitForIdleAsync("t1");
    }
}
