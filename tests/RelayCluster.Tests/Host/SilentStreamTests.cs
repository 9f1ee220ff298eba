using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>
/// An upstream that answers a stream with its headers and then nothing. The first event is vetted before the call is
/// the caller's, under the idle timeout (1 s here; the first-byte timeout stops at the headers, since a reasoning
/// model's first chunk may legitimately take minutes): the silent target is given up for the route's next one, or
/// the call fails with upstream_unavailable, and nothing is billed for it.
/// </summary>
public sealed class SilentStreamTests : IAsyncLifetime
{
    private const string Key = "sk-silent-key";
    private ScriptedUpstream _upstream = null!;
    private RelayHost _host = null!;

    public async Task InitializeAsync()
    {
        _upstream = await ScriptedUpstream.StartAsync();
        _upstream.Handler = async context =>
        {
            context.Response.ContentType = "text/event-stream";
            await context.Response.Body.FlushAsync(context.RequestAborted); // the headers go out
            try
            {
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                // the relay gave up on it
            }
        };
        _host = new RelayHost(RelayHost.SimulatorSettings(
            ("Relay:Providers:raw:Type", "openai"),
            ("Relay:Providers:raw:BaseUrl", _upstream.BaseUrl),
            ("Relay:Providers:raw:Resilience:MaxAttempts", "1"),
            ("Relay:Providers:raw:Resilience:IdleTimeoutSeconds", "1"),
            ("Relay:Models:raw-chat:Provider", "raw"),
            ("Relay:Models:raw-chat:InputPerMTok", "1"),
            ("Relay:Routes:chat:Targets:0:Model", "raw-chat"),
            ("Relay:Routes:chat:Targets:1:Model", "mock-fast"),
            ("Relay:Tenants:t1:Keys:0", Key),
            ("Relay:Tenants:t1:Models:0", "*")));
    }

    public async Task DisposeAsync()
    {
        _host.Dispose();
        await _upstream.DisposeAsync();
    }

    private static string Chat(string model) =>
        ((string)RelayHost.Chat("hello", stream: true)).Replace("\"mock-fast\"", $"\"{model}\"", StringComparison.Ordinal);

    [Fact]
    public async Task A_route_falls_back_past_a_target_that_sends_headers_and_then_nothing()
    {
        using var client = _host.ClientFor(Key);
        var clock = Stopwatch.StartNew();
        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(Chat("chat")));
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("sim", response.Headers.GetValues("x-relay-provider").Single());
        Assert.EndsWith("data: [DONE]\n\n", body, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"the fallback took {clock.Elapsed}");
        Assert.Equal(1, _upstream.Calls);

        // One request, booked once, at the target that answered.
        await _host.WaitForIdleAsync("t1");
        var usage = (await Eventually.WaitAsync(() => _host.UsageAsync("t1"), u => (long)u["requests"]! >= 1, TimeSpan.FromSeconds(10)))!;
        Assert.Equal(1, (long)usage["requests"]!);
        Assert.Equal(1, (long)usage["by_ending"]!["completed"]!);
        Assert.Equal(["mock-fast"], usage["by_model"]!.AsObject().Select(m => m.Key));
    }

    [Fact]
    public async Task A_single_target_that_sends_headers_and_then_nothing_fails_as_unavailable_unbilled()
    {
        using var client = _host.ClientFor(Key);
        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(Chat("raw-chat")));
        var body = await response.Content.ReadAsStringAsync();

        // A 502 status, or an error event if a heartbeat committed the stream first.
        var error = response.StatusCode == HttpStatusCode.OK
            ? JsonNode.Parse(SseText.DataPayloads(body)[^1])!["error"]!
            : JsonNode.Parse(body)!["error"]!;
        Assert.Contains(response.StatusCode, new[] { HttpStatusCode.OK, HttpStatusCode.BadGateway });
        Assert.Equal("upstream_unavailable", (string?)error["code"]);
        Assert.Contains("sent nothing for 1 s", (string)error["message"]!, StringComparison.Ordinal);

        var quota = await _host.WaitForIdleAsync("t1");
        Assert.Equal(0, (long)quota["spent_nanos"]!); // nothing came: nothing billed
    }
}
