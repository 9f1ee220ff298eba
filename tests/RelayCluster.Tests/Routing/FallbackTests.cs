using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Routing;

/// <summary>Fallback chains, retries and the breaker, end to end: relay → MockUpstream servers over loopback HTTP.</summary>
public sealed class FallbackTests
{
    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.Single() : "";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_failing_primary_falls_back_to_the_secondary_whose_answer_the_caller_gets(bool stream)
    {
        await using var host = await RoutingHost.StartAsync(null, [.. RoutingHost.ChainRoute, ("Relay:Providers:primary:Resilience:MaxAttempts", "2")]);
        await RoutingHost.FaultAsync(host.Primary, 503);
        using var client = host.Relay.ClientFor(RoutingHost.Key);

        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RoutingHost.Chat("chat", "hello", stream)));
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("secondary", Header(response, "x-relay-provider"));
        Assert.Equal("3", Header(response, "x-relay-attempts")); // two on the primary (one retry), one on the secondary
        Assert.Equal(2, await RoutingHost.CallsAsync(host.Primary));
        Assert.Contains(stream ? "[DONE]" : "\"finish_reason\"", body, StringComparison.Ordinal);

        // Billed at the target that answered, and the route is in the usage record.
        await host.Relay.WaitForIdleAsync("t");
        var usage = await host.Relay.UsageAsync("t");
        Assert.Null(usage["by_model"]!["cheap"]);
        Assert.Equal(1, (long)usage["by_model"]!["dear"]!["requests"]!);
        var record = await LastRecordAsync(host.Relay);
        Assert.Equal(("dear", "chat", 3, 1), ((string)record["model"]!, (string)record["route"]!, (int)record["attempts"]!, (int)record["fallbacks"]!));
    }

    [Fact]
    public async Task A_dead_primary_fails_over_at_once()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var deadPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // nothing listens there any more: connection refused
        await using var host = await RoutingHost.StartAsync($"http://127.0.0.1:{deadPort}/v1", [.. RoutingHost.ChainRoute, ("Relay:Providers:primary:Resilience:MaxAttempts", "1")]);
        using var client = host.Relay.ClientFor(RoutingHost.Key);

        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RoutingHost.Chat("chat", "hello", stream: true)));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("secondary", Header(response, "x-relay-provider"));
        Assert.Equal("2", Header(response, "x-relay-attempts"));
    }

    [Fact]
    public async Task A_429_with_retry_after_is_waited_out_and_retried()
    {
        await using var host = await RoutingHost.StartAsync(null, ("Relay:Providers:primary:Resilience:MaxAttempts", "3"));
        using var client = host.Relay.ClientFor(RoutingHost.Key);
        var watch = Stopwatch.StartNew();

        using var response = await client.PostAsync("/v1/chat/completions",
            RelayHost.Json(RoutingHost.Chat("cheap", "busy [[sim error=429 retry_after=1 error_times=1]]")));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("2", Header(response, "x-relay-attempts"));
        Assert.True(watch.Elapsed >= TimeSpan.FromSeconds(0.95), $"answered after {watch.Elapsed}, before the Retry-After of 1 s");
    }

    [Fact]
    public async Task The_breaker_opens_after_repeated_failures_skips_the_dead_upstream_and_closes_after_recovery()
    {
        await using var host = await RoutingHost.StartAsync(null,
        [
            .. RoutingHost.ChainRoute,
            ("Relay:Providers:primary:Resilience:MaxAttempts", "1"),
            ("Relay:Providers:primary:Resilience:MinimumThroughput", "4"),
            ("Relay:Providers:primary:Resilience:BreakSeconds", "1"),
        ]);
        await RoutingHost.FaultAsync(host.Primary, 503);
        using var client = host.Relay.ClientFor(RoutingHost.Key);
        async Task<string> ProviderAsync()
        {
            using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RoutingHost.Chat("chat", "hi")));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return Header(response, "x-relay-provider");
        }

        for (var i = 0; i < 4; i++)
        {
            Assert.Equal("secondary", await ProviderAsync());
        }

        var callsWhenOpen = await RoutingHost.CallsAsync(host.Primary);
        Assert.Equal("open", await CircuitAsync(host.Relay, "primary"));
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal("secondary", await ProviderAsync()); // failed fast: the dead upstream is not called
        }

        Assert.Equal(callsWhenOpen, await RoutingHost.CallsAsync(host.Primary));

        // Recovery: after the break a probe goes through, succeeds, and the breaker closes.
        await RoutingHost.FaultAsync(host.Primary, null);
        var provider = await Eventually.WaitAsync(ProviderAsync, p => p == "primary", TimeSpan.FromSeconds(10));
        Assert.Equal("primary", provider);
        Assert.Equal("closed", await CircuitAsync(host.Relay, "primary"));
    }

    [Fact]
    public async Task A_mid_stream_failure_is_never_retried_nor_failed_over_and_ends_with_an_error_event()
    {
        await using var host = await RoutingHost.StartAsync(null, [.. RoutingHost.ChainRoute, ("Relay:Providers:primary:Resilience:MaxAttempts", "3")]);
        using var client = host.Relay.ClientFor(RoutingHost.Key);

        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RoutingHost.Chat("chat", "fail [[sim mid_error=2]]", stream: true)));
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal("primary", Header(response, "x-relay-provider"));
        Assert.Equal("1", Header(response, "x-relay-attempts"));
        Assert.Contains("\"error\"", body, StringComparison.Ordinal);
        Assert.DoesNotContain("[DONE]", body, StringComparison.Ordinal);
        Assert.Equal(1, await RoutingHost.CallsAsync(host.Primary));
        Assert.Equal(0, await RoutingHost.CallsAsync(host.Secondary));
    }

    internal static async Task<string?> CircuitAsync(RelayHost relay, string provider)
    {
        using var admin = relay.ClientFor(RelayHost.AdminKey);
        var health = (await admin.GetFromJsonAsync<JsonObject>("/admin/providers/health"))!["data"]!.AsArray();
        return (string?)health.Single(p => (string?)p!["provider_id"] == provider)!["circuit"];
    }

    internal static async Task<JsonObject> LastRecordAsync(RelayHost relay)
    {
        var lines = await Eventually.WaitAsync(async () => Directory.GetFiles(relay.UsageDirectory, "*.jsonl") is [var file]
            ? await ReadSharedAsync(file) : [], l => l.Length > 0);
        return JsonNode.Parse(lines![^1])!.AsObject();
    }

    private static async Task<string[]> ReadSharedAsync(string file)
    {
        await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return (await reader.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }
}
