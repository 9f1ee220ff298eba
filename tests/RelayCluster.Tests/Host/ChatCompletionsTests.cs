using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

public sealed class ChatCompletionsTests : IDisposable
{
    private const string Key = "sk-chat-tests-key";
    private readonly RelayHost _host = new(RelayHost.SimulatorSettings(
        ("Relay:Tenants:t1:Keys:0", Key),
        ("Relay:Tenants:t1:RequestsPerMinute", "1000"),
        ("Relay:Tenants:t1:TokensPerMinute", "1000000"),
        ("Relay:Aliases:gpt-4o-*", "mock-fast")));

    public void Dispose() => _host.Dispose();

    [Fact]
    public async Task A_plain_completion_is_an_openai_chat_completion_with_usage_and_headers()
    {
        using var client = _host.ClientFor(Key);
        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("Hello there", extra: new { max_tokens = 5 })));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        Assert.Matches("^req_[0-9a-f]{32}$", response.Headers.GetValues("x-request-id").Single());
        Assert.Equal("1000", response.Headers.GetValues("x-ratelimit-limit-requests").Single());
        Assert.Equal("999", response.Headers.GetValues("x-ratelimit-remaining-requests").Single());
        Assert.EndsWith("s", response.Headers.GetValues("x-ratelimit-reset-tokens").Single(), StringComparison.Ordinal);

        var body = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("chat.completion", (string?)body["object"]);
        Assert.Equal("length", (string?)body["choices"]![0]!["finish_reason"]);
        Assert.Equal(5, (int)body["usage"]!["completion_tokens"]!);
        Assert.Equal(2 + 3 + 3, (int)body["usage"]!["prompt_tokens"]!); // the simulator's count, not the relay's estimate
    }

    [Fact]
    public async Task The_remaining_counters_move_with_every_request()
    {
        using var client = _host.ClientFor(Key);
        var remaining = new List<int>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("count me", extra: new { max_tokens = 2 })));
            remaining.Add(int.Parse(response.Headers.GetValues("x-ratelimit-remaining-requests").Single(), System.Globalization.CultureInfo.InvariantCulture));
        }

        Assert.Equal([remaining[0], remaining[0] - 1, remaining[0] - 2], remaining);
    }

    [Fact]
    public async Task A_stream_carries_the_same_text_as_the_plain_answer_and_ends_with_done()
    {
        using var client = _host.ClientFor(Key);
        var plain = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("same prompt")));
        var plainText = (string?)(await plain.Content.ReadFromJsonAsync<JsonObject>())!["choices"]![0]!["message"]!["content"];

        using var streamed = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("same prompt", stream: true)));
        Assert.Equal("text/event-stream", streamed.Content.Headers.ContentType!.MediaType);
        var body = await streamed.Content.ReadAsStringAsync();

        Assert.Equal(plainText, SseText.Content(body));
        Assert.Equal("[DONE]", SseText.DataPayloads(body)[^1]);
        Assert.All(SseText.JsonChunks(body), c => Assert.Equal("chat.completion.chunk", (string?)c["object"]));
    }

    [Fact]
    public async Task The_usage_chunk_is_sent_only_when_the_caller_asked_for_it()
    {
        using var client = _host.ClientFor(Key);
        var without = await (await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("u", stream: true)))).Content.ReadAsStringAsync();
        var with = await (await client.PostAsync("/v1/chat/completions",
            RelayHost.Json(RelayHost.Chat("u", stream: true, extra: new { stream_options = new { include_usage = true } })))).Content.ReadAsStringAsync();

        Assert.DoesNotContain(SseText.JsonChunks(without), c => c["usage"] is JsonObject);
        var usageChunk = Assert.Single(SseText.JsonChunks(with), c => c["usage"] is JsonObject);
        Assert.Empty(usageChunk["choices"]!.AsArray());
        Assert.Equal(16, (int)usageChunk["usage"]!["completion_tokens"]!);

        // Both were metered from the upstream's usage, whether or not the caller saw it.
        var usage = await _host.UsageAsync("t1");
        Assert.Equal(0, (long)usage["estimated_requests"]!);
        Assert.Equal(32, (long)usage["completion_tokens"]!);
    }

    [Fact]
    public async Task A_prefix_alias_reaches_its_model()
    {
        using var client = _host.ClientFor(Key);
        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(
            """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":1}"""));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("mock-fast", (string?)(await _host.UsageAsync("t1"))["by_model"]!.AsObject().Single().Key);
    }

    [Fact]
    public async Task Models_lists_and_retrieves_only_what_the_tenant_may_use()
    {
        using var client = _host.ClientFor(Key);
        var list = (await client.GetFromJsonAsync<JsonObject>("/v1/models"))!;
        Assert.Equal("list", (string?)list["object"]);
        Assert.Equal(["mock-embed", "mock-fast"], list["data"]!.AsArray().Select(m => (string)m!["id"]!));

        var model = (await client.GetFromJsonAsync<JsonObject>("/v1/models/mock-fast"))!;
        Assert.Equal("model", (string?)model["object"]);
        Assert.True(model.ContainsKey("created") && model.ContainsKey("owned_by"));

        using var missing = await client.GetAsync("/v1/models/nope");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("model_not_found", (string?)(await missing.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["code"]);
    }
}
