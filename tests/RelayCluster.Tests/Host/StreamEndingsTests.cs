using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>Each way a request can end is settled exactly once, billed for what was produced, and frees its slot.</summary>
public sealed class StreamEndingsTests : IDisposable
{
    private const string Key = "sk-endings-key";
    private readonly RelayHost _host = new(RelayHost.SimulatorSettings(
        ("Relay:Requests:HeartbeatSeconds", "0.1"),
        ("Relay:Tenants:t1:Keys:0", Key),
        ("Relay:Tenants:t1:MaxConcurrent", "5"),
        ("Relay:Tenants:t1:MonthlyBudgetUsd", "10")));

    public void Dispose() => _host.Dispose();

    private async Task<JsonObject> OnlyEndingAsync()
    {
        await _host.WaitForIdleAsync("t1");
        var usage = await _host.UsageAsync("t1");
        Assert.Equal(1, (long)usage["requests"]!);
        return usage;
    }

    [Fact]
    public async Task A_client_that_leaves_mid_stream_cancels_the_upstream_and_is_billed_for_what_it_got()
    {
        using var client = _host.DisconnectingClientFor(Key);
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
               { Content = RelayHost.Json(RelayHost.Chat("leave early [[sim tokens=200 interval=20]]", stream: true)) })
        using (var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            var contentChunks = 0;
            while (contentChunks < 3 && await reader.ReadLineAsync() is { } line)
            {
                contentChunks += line.Contains("\"content\":\"", StringComparison.Ordinal) && !line.Contains("\"content\":\"\"", StringComparison.Ordinal) ? 1 : 0;
            }
        }

        var usage = await OnlyEndingAsync();
        Assert.Equal(1, (long)usage["by_ending"]!["client_disconnected"]!);
        Assert.Equal(1, (long)usage["estimated_requests"]!); // the usage chunk never came: counted by the relay
        var completion = (long)usage["completion_tokens"]!;
        Assert.InRange(completion, 3, 100); // what was produced, far short of the 200 the model would have written
        Assert.Equal((long)(await _host.QuotaAsync("t1"))["spent_nanos"]!, (long)usage["cost_nanos"]!);
    }

    [Fact]
    public async Task An_upstream_error_before_output_is_an_http_error_and_costs_nothing()
    {
        using var client = _host.ClientFor(Key);
        foreach (var stream in new[] { false, true })
        {
            using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("[[sim error=503 retry_after=3]]", stream)));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("3", response.Headers.GetValues("Retry-After").Single());
            Assert.Equal("server_error", (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["type"]);
        }

        var quota = await _host.WaitForIdleAsync("t1");
        Assert.Equal(0, (long)quota["spent_nanos"]!);
        Assert.Equal(2, (long)(await _host.UsageAsync("t1"))["by_ending"]!["upstream_error"]!);
    }

    [Fact]
    public async Task An_upstream_error_mid_stream_is_passed_on_as_an_error_event_without_done()
    {
        using var client = _host.ClientFor(Key);
        var body = await (await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("[[sim mid_error=2]]", stream: true)))).Content.ReadAsStringAsync();

        var payloads = SseText.DataPayloads(body);
        Assert.DoesNotContain("[DONE]", payloads);
        Assert.Contains("\"error\"", payloads[^1], StringComparison.Ordinal);
        var relayed = SseText.Content(body[..body.LastIndexOf("data:", StringComparison.Ordinal)]);
        Assert.Equal(2, relayed.Split(' ').Length);

        // No usage came: billed by the estimator's rule, a token a chunk or four bytes a token, whichever is more.
        var usage = await OnlyEndingAsync();
        Assert.Equal(1, (long)usage["by_ending"]!["upstream_error_mid_stream"]!);
        Assert.Equal(Math.Max(2, (System.Text.Encoding.UTF8.GetByteCount(relayed) + 3) / 4), (long)usage["completion_tokens"]!);
    }

    [Fact]
    public async Task A_dropped_upstream_connection_becomes_an_error_event_never_a_clean_done()
    {
        using var client = _host.ClientFor(Key);
        var body = await (await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("[[sim drop=3]]", stream: true)))).Content.ReadAsStringAsync();

        var last = JsonNode.Parse(SseText.DataPayloads(body)[^1])!;
        Assert.Equal("upstream_truncated", (string?)last["error"]!["code"]);
        Assert.DoesNotContain("[DONE]", SseText.DataPayloads(body));
        Assert.Equal(1, (long)(await OnlyEndingAsync())["by_ending"]!["upstream_truncated"]!);
    }

    [Fact]
    public async Task An_upstream_that_reports_no_usage_is_billed_by_estimate_and_flagged()
    {
        using var client = _host.ClientFor(Key);
        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("no usage here [[sim usage=none tokens=6]]")));
        Assert.Null((await response.Content.ReadFromJsonAsync<JsonObject>())!["usage"]);

        var usage = await OnlyEndingAsync();
        Assert.Equal(1, (long)usage["estimated_requests"]!);
        Assert.True((long)usage["completion_tokens"]! > 0);
        Assert.True((long)usage["cost_nanos"]! > 0);
    }

    [Fact]
    public async Task Heartbeat_comments_keep_a_silent_stream_alive_until_the_first_token()
    {
        using var client = _host.ClientFor(Key);
        var body = await (await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("slow start [[sim ttft=600 tokens=2]]", stream: true)))).Content.ReadAsStringAsync();

        var heartbeat = body.IndexOf(": keep-alive", StringComparison.Ordinal);
        Assert.InRange(heartbeat, 0, body.IndexOf("data:", StringComparison.Ordinal));
        Assert.Equal("[DONE]", SseText.DataPayloads(body)[^1]);
    }
}
