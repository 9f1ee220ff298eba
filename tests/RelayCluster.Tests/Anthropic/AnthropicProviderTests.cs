using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Wire;
using RelayCluster.Tests.Infrastructure;
using RelayCluster.Upstreams;
using RelayCluster.Upstreams.Anthropic;

namespace RelayCluster.Tests.Anthropic;

/// <summary>The anthropic provider over real HTTP: the relay on Kestrel, MockUpstream's Anthropic mode behind it.</summary>
public sealed class AnthropicProviderTests : IAsyncLifetime
{
    private const string Key = "sk-anthropic-key";
    private const string Tools = """[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]""";
    private const string WithTools = "{\"tools\":" + Tools + "}";
    private MockUpstreamHost _upstream = null!;
    private RelayHost _host = null!;

    public async Task InitializeAsync()
    {
        _upstream = await MockUpstreamHost.StartAsync("--api-key", "anthropic-secret");
        _host = new RelayHost(Settings(_upstream.BaseUrl, "anthropic-secret"));
    }

    public async Task DisposeAsync()
    {
        _host.Dispose();
        await _upstream.DisposeAsync();
    }

    private static Dictionary<string, string?> Settings(string baseUrl, string apiKey) => RelayHost.SimulatorSettings(
        ("Relay:Providers:claude:Type", "anthropic"),
        ("Relay:Providers:claude:BaseUrl", baseUrl[..^"/v1".Length]), // Anthropic-style: the host, without /v1
        ("Relay:Providers:claude:ApiKey", apiKey),
        ("Relay:Models:claude-fast:Provider", "claude"),
        ("Relay:Models:claude-fast:UpstreamModel", "claude-mock-1"),
        ("Relay:Models:claude-fast:InputPerMTok", "3"),
        ("Relay:Models:claude-fast:OutputPerMTok", "15"),
        ("Relay:Tenants:t1:Keys:0", Key));

    private static StringContent Chat(string content, bool stream = false, string? extra = null)
    {
        var body = JsonNode.Parse((string)RelayHost.Chat(content, stream))!.AsObject();
        body["model"] = "claude-fast";
        foreach (var (name, value) in extra is null ? [] : JsonNode.Parse(extra)!.AsObject().ToList())
        {
            body[name] = value?.DeepClone();
        }

        return RelayHost.Json(body.ToJsonString());
    }

    private async Task<(HttpResponseMessage Response, string Body)> PostAsync(StringContent content)
    {
        using var client = _host.ClientFor(Key);
        var response = await client.PostAsync("/v1/chat/completions", content);
        return (response, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Plain_and_streamed_answers_agree_with_the_simulator_and_book_the_translated_usage()
    {
        const string Prompt = "Tell me about relays [[sim tokens=6 cache_read=2 cache_write=1]]";
        var (plain, plainBody) = await PostAsync(Chat(Prompt));
        var (_, streamed) = await PostAsync(Chat(Prompt, stream: true, """{"stream_options":{"include_usage":true}}"""));
        var (_, simulated) = await PostAsync(RelayHost.Json(RelayHost.Chat(Prompt)));

        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        var completion = JsonNode.Parse(plainBody)!;
        var simulator = JsonNode.Parse(simulated)!;
        Assert.Equal("claude-mock-1", (string?)completion["model"]); // the upstream model name went upstream and came back
        Assert.Equal((string?)simulator["choices"]![0]!["message"]!["content"], (string?)completion["choices"]![0]!["message"]!["content"]);
        Assert.Equal((string?)completion["choices"]![0]!["message"]!["content"], SseText.Content(streamed));
        Assert.Equal("[DONE]", SseText.DataPayloads(streamed)[^1]);

        // The simulator's prompt count, split by Anthropic into input and cache counters, summed again.
        var promptTokens = (long)simulator["usage"]!["prompt_tokens"]!;
        Assert.Equal(promptTokens, (long)completion["usage"]!["prompt_tokens"]!);
        Assert.Equal(2, (long)completion["usage"]!["prompt_tokens_details"]!["cached_tokens"]!);
        Assert.Equal(6, (long)completion["usage"]!["completion_tokens"]!);
        Assert.Equal(completion["usage"]!.ToJsonString(), SseText.JsonChunks(streamed)[^1]["usage"]!.ToJsonString());

        await _host.WaitForIdleAsync("t1");
        var usage = await _host.UsageAsync("t1");
        var claude = usage["by_model"]!["claude-fast"]!;
        Assert.Equal(2, (long)claude["requests"]!);
        Assert.Equal(2 * promptTokens, (long)claude["prompt_tokens"]!);
        Assert.Equal(12, (long)claude["completion_tokens"]!);
        Assert.Equal(0, (long)usage["estimated_requests"]!);
    }

    [Fact]
    public async Task A_tool_call_round_trips_plain_and_streamed_and_its_result_is_accepted()
    {
        var (_, plainBody) = await PostAsync(Chat("Weather in Paris? [[sim tokens=0]]", extra: WithTools));
        var message = JsonNode.Parse(plainBody)!["choices"]![0]!;
        Assert.Equal("tool_calls", (string?)message["finish_reason"]);
        var call = message["message"]!["tool_calls"]![0]!;
        Assert.Equal("get_weather", (string?)call["function"]!["name"]);
        Assert.Equal("relay", (string?)JsonNode.Parse((string)call["function"]!["arguments"]!)!["city"]);

        var (_, streamed) = await PostAsync(Chat("Weather in Paris? [[sim tokens=2]]", stream: true, WithTools));
        var deltas = SseText.JsonChunks(streamed).SelectMany(c => c["choices"]!.AsArray()).Select(c => c!["delta"]!["tool_calls"]?[0]).OfType<JsonNode>().ToList();
        Assert.Equal("get_weather", (string?)deltas[0]["function"]!["name"]);
        Assert.StartsWith("toolu_", (string?)deltas[0]["id"], StringComparison.Ordinal);
        Assert.Equal("relay", (string?)JsonNode.Parse(string.Concat(deltas.Select(d => (string?)d["function"]!["arguments"])))!["city"]);
        Assert.Equal(2, SseText.Content(streamed).Split(' ').Length); // the text block before the tool call came through too

        // The caller answers the call; MockUpstream checks the tool_result refers to the tool_use it made.
        var followUp = new JsonObject
        {
            ["tools"] = JsonNode.Parse(Tools),
            ["messages"] = new JsonArray(
                new JsonObject { ["role"] = "user", ["content"] = "Weather in Paris?" },
                new JsonObject { ["role"] = "assistant", ["content"] = null, ["tool_calls"] = new JsonArray(call.DeepClone()) },
                new JsonObject { ["role"] = "tool", ["tool_call_id"] = call["id"]!.DeepClone(), ["content"] = "18C and sunny" }),
        }.ToJsonString();
        var (answer, answerBody) = await PostAsync(Chat("", extra: followUp));
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal("stop", (string?)JsonNode.Parse(answerBody)!["choices"]![0]!["finish_reason"]);
    }

    [Theory]
    [InlineData("[[sim error=529 retry_after=3]]", 503, "3")]
    [InlineData("[[sim error=529]]", 503, "5")]
    [InlineData("[[sim error=429 retry_after=7]]", 429, "7")]
    public async Task Overload_and_rate_limits_keep_a_retry_after(string prompt, int status, string retryAfter)
    {
        foreach (var stream in new[] { false, true })
        {
            var (response, body) = await PostAsync(Chat(prompt, stream));
            Assert.Equal(status, (int)response.StatusCode);
            Assert.Equal(retryAfter, response.Headers.GetValues("Retry-After").Single());
            Assert.NotNull(JsonNode.Parse(body)!["error"]!["message"]);
        }

        Assert.Equal(0, (long)(await _host.WaitForIdleAsync("t1"))["spent_nanos"]!);
    }

    [Fact]
    public async Task A_mid_stream_error_and_a_dropped_stream_are_reported_not_completed()
    {
        var (_, failed) = await PostAsync(Chat("[[sim tokens=5 mid_error=2]]", stream: true));
        Assert.Equal("overloaded", (string?)JsonNode.Parse(SseText.DataPayloads(failed)[^1])!["error"]!["code"]);
        Assert.Equal(2, SseText.Content(failed).Split(' ').Length);

        // Paced: a reset right after the headers would be (correctly) seen as an unreachable upstream.
        var (_, dropped) = await PostAsync(Chat("[[sim tokens=5 drop=2 interval=50]]", stream: true));
        Assert.Equal("upstream_truncated", (string?)JsonNode.Parse(SseText.DataPayloads(dropped)[^1])!["error"]!["code"]);
        await _host.WaitForIdleAsync("t1");
    }

    [Fact]
    public async Task A_rejected_key_is_the_relays_failure_and_embeddings_are_refused_without_a_call()
    {
        using (var host = new RelayHost(Settings(_upstream.BaseUrl, "wrong-secret")))
        using (var client = host.ClientFor(Key))
        using (var response = await client.PostAsync("/v1/chat/completions", Chat("x")))
        {
            Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
            Assert.Equal("upstream_auth_failed", (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["code"]);
        }

        var (embeddings, body) = await PostEmbeddingsAsync();
        Assert.Equal(HttpStatusCode.BadRequest, embeddings.StatusCode);
        Assert.Contains("embeddings", (string?)JsonNode.Parse(body)!["error"]!["message"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_base_url_written_openai_style_with_v1_reaches_the_same_endpoint()
    {
        using var provider = new AnthropicProvider("direct", new ProviderOptions { Type = "anthropic", BaseUrl = _upstream.BaseUrl, ApiKey = "anthropic-secret" }, TimeProvider.System);
        var body = JsonNode.Parse("""{"model":"claude-mock-1","messages":[{"role":"user","content":"direct [[sim tokens=3]]"}]}""")!.AsObject();
        await using var response = await provider.SendAsync(new UpstreamRequest(RelayOperation.ChatCompletions, body, Stream: false), CancellationToken.None);

        Assert.Equal(200, response.StatusCode);
        var completion = JsonNode.Parse(await new StreamReader(response.Body).ReadToEndAsync())!;
        Assert.Equal(3, (long)completion["usage"]!["completion_tokens"]!);
    }

    private async Task<(HttpResponseMessage Response, string Body)> PostEmbeddingsAsync()
    {
        using var client = _host.ClientFor(Key);
        var response = await client.PostAsync("/v1/embeddings", RelayHost.Json(new { model = "claude-fast", input = "x" }));
        return (response, await response.Content.ReadAsStringAsync());
    }
}
