using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>
/// An upstream 2xx that is not the endpoint's answer (issue 13, part 6) is an upstream error: a 502 envelope with
/// code <c>upstream_invalid_response</c>, retried, failed over to the next target of a route, and never billed as
/// completed. The upstream is a scripted fake that sends exactly the bytes of each case.
/// </summary>
public sealed class UpstreamAnswerTests : IAsyncLifetime
{
    private const string Key = "sk-answers-key";
    private ScriptedUpstream _upstream = null!;
    private RelayHost _host = null!;

    public async Task InitializeAsync()
    {
        _upstream = await ScriptedUpstream.StartAsync();
        _host = new RelayHost(RelayHost.SimulatorSettings(
            ("Relay:Providers:raw:Type", "openai"),
            ("Relay:Providers:raw:BaseUrl", _upstream.BaseUrl),
            ("Relay:Providers:raw:Resilience:MaxAttempts", "2"),
            ("Relay:Providers:raw:Resilience:BaseDelayMs", "1"),
            ("Relay:Providers:raw:Resilience:MaxDelayMs", "5"),
            ("Relay:Models:raw-chat:Provider", "raw"),
            ("Relay:Models:raw-chat:InputPerMTok", "1"),
            ("Relay:Models:raw-chat:OutputPerMTok", "2"),
            ("Relay:Models:raw-embed:Provider", "raw"),
            ("Relay:Models:raw-embed:InputPerMTok", "1"),
            ("Relay:Routes:chat:Targets:0:Model", "raw-chat"),
            ("Relay:Routes:chat:Targets:1:Model", "mock-fast"),
            ("Relay:Routes:embed:Targets:0:Model", "raw-embed"),
            ("Relay:Routes:embed:Targets:1:Model", "mock-embed"),
            ("Relay:Routes:shadowed:Targets:0:Model", "mock-fast"),
            ("Relay:Routes:shadowed:Shadow:Model", "raw-chat"),
            ("Relay:Routes:shadowed:Shadow:Percent", "100"),
            ("Relay:Tenants:t1:Keys:0", Key),
            ("Relay:Tenants:t1:Models:0", "*"),
            ("Relay:Tenants:t1:MonthlyBudgetUsd", "10")));
    }

    public async Task DisposeAsync()
    {
        _host.Dispose();
        await _upstream.DisposeAsync();
    }

    private static string Chat(string model, bool stream) =>
        ((string)RelayHost.Chat("hello", stream)).Replace("\"mock-fast\"", $"\"{model}\"", StringComparison.Ordinal);

    private const string Chunk = """{"id":"c1","object":"chat.completion.chunk","created":1,"model":"x","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}""";

    /// <summary>The call's 502 envelope, and that it was retried once, settled as an upstream error and cost nothing.</summary>
    private async Task<JsonObject> AssertUpstreamErrorAsync(HttpResponseMessage response, string reason)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = JsonNode.Parse(body)!["error"]!.AsObject();
        Assert.Contains(reason, (string)error["message"]!, StringComparison.Ordinal);
        Assert.True(error.ContainsKey("param"));
        Assert.Equal(2, _upstream.Calls); // one retry (MaxAttempts 2): before the first byte an invalid answer is retryable

        var quota = await _host.WaitForIdleAsync("t1");
        Assert.Equal(0, (long)quota["spent_nanos"]!);
        var usage = await _host.UsageAsync("t1");
        Assert.Equal(1, (long)usage["by_ending"]!["upstream_error"]!);
        Assert.Null(usage["by_ending"]!["completed"]);
        return error;
    }

    [Theory]
    [InlineData("application/json", """{"error":{"message":"You exceeded your current quota.","type":"insufficient_quota","code":null}}""", "You exceeded your current quota.")]
    [InlineData("application/json", """{"error":"model overloaded"}""", "model overloaded")]
    [InlineData("application/json", "not json at all", "not JSON")]
    [InlineData("text/html", "<html><body>502 Bad Gateway</body></html>", "not JSON")]
    [InlineData("application/json", "", "empty body")]
    [InlineData("application/json", """[{"choices":[]}]""", "JSON array")]
    [InlineData("application/json", "\"ok\"", "JSON string")]
    [InlineData("application/json", """{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"x"}""", "no 'choices'")]
    [InlineData("application/json", """{"id":"chatcmpl-1","object":"chat.completion","choices":[]}""", "no 'choices'")]
    [InlineData("application/json", """{"id":"chatcmpl-1","object":"chat.completion","choices":"none"}""", "no 'choices'")]
    [InlineData("application/json", """{"id":"chatcmpl-1","object":"chat.completion","choices":["hi"]}""", "not a choice")]
    [InlineData("application/json", """{"choices":[{"index":0}]} trailing""", "not JSON")]
    public async Task A_plain_answer_that_is_not_a_chat_completion_is_a_502_retried_and_not_billed(string contentType, string body, string reason)
    {
        _upstream.Answers(200, contentType, body);
        using var client = _host.ClientFor(Key);
        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(Chat("raw-chat", stream: false)));

        var error = await AssertUpstreamErrorAsync(response, reason);
        if (body.Contains("insufficient_quota", StringComparison.Ordinal))
        {
            Assert.Equal("insufficient_quota", (string)error["type"]!); // the upstream's own error keeps its type
        }

        Assert.Equal("upstream_invalid_response", (string?)error["code"]);
    }

    [Theory]
    [InlineData("data: {\"error\":{\"message\":\"You exceeded your current quota.\",\"code\":\"insufficient_quota\"}}\n\n", "You exceeded your current quota.")]
    [InlineData("data: not json\n\n", "not JSON")]
    [InlineData("data: [1,2]\n\n", "JSON array")]
    [InlineData("data: [DONE]\n\n", "before any chunk")]
    [InlineData("", "ended before any chunk")]
    [InlineData(": just a comment\n\nevent: ping\n\n", "ended before any chunk")]
    [InlineData("{\"error\":{\"message\":\"sent as JSON, not SSE\"}}", "ended before any chunk")]
    [InlineData("data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\"}\n\n", "no 'choices'")]
    public async Task A_stream_whose_first_event_is_not_a_chunk_is_a_502_before_any_byte(string stream, string reason)
    {
        _upstream.Streams(stream);
        using var client = _host.ClientFor(Key);
        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(Chat("raw-chat", stream: true)));

        var error = await AssertUpstreamErrorAsync(response, reason);
        Assert.Equal(stream.Contains("insufficient_quota", StringComparison.Ordinal) ? "insufficient_quota" : "upstream_invalid_response", (string?)error["code"]);
    }

    [Theory]
    [InlineData("""{"error":{"message":"no such model"}}""", "no such model")]
    [InlineData("""{"object":"list","data":[],"model":"x"}""", "no 'data'")]
    [InlineData("""{"object":"list","data":[{"object":"embedding","index":0}],"model":"x"}""", "not an embedding")]
    [InlineData("""{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0}]}""", "no 'data'")]
    public async Task An_embeddings_answer_without_embeddings_is_a_502(string body, string reason)
    {
        _upstream.Answers(200, "application/json", body);
        using var client = _host.ClientFor(Key);
        using var response = await client.PostAsync("/v1/embeddings", RelayHost.Json(new { model = "raw-embed", input = "hello" }));

        var error = await AssertUpstreamErrorAsync(response, reason);
        Assert.Equal("upstream_invalid_response", (string?)error["code"]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_route_falls_back_past_an_answer_that_is_not_one(bool stream)
    {
        if (stream)
        {
            _upstream.Streams("data: {\"error\":{\"message\":\"overloaded\"}}\n\n");
        }
        else
        {
            _upstream.Answers(200, "application/json", """{"error":{"message":"overloaded"}}""");
        }

        using var client = _host.ClientFor(Key);
        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(Chat("chat", stream)));
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("sim", response.Headers.GetValues("x-relay-provider").Single());
        Assert.Equal("3", response.Headers.GetValues("x-relay-attempts").Single()); // two on the fake, one on the simulator
        Assert.NotEmpty(stream ? SseText.Content(body) : (string)JsonNode.Parse(body)!["choices"]![0]!["message"]!["content"]!);
        Assert.Equal(2, _upstream.Calls);

        await _host.WaitForIdleAsync("t1");
        var usage = await _host.UsageAsync("t1");
        Assert.Equal(1, (long)usage["by_ending"]!["completed"]!);
        Assert.Equal(1, (long)usage["by_model"]!["mock-fast"]!["requests"]!);
        Assert.Null(usage["by_model"]!["raw-chat"]);
    }

    [Fact]
    public async Task An_embeddings_route_falls_back_past_an_empty_list()
    {
        _upstream.Answers(200, "application/json", """{"object":"list","data":[],"model":"x"}""");
        using var client = _host.ClientFor(Key);
        using var response = await client.PostAsync("/v1/embeddings", RelayHost.Json(new { model = "embed", input = "hello" }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotEmpty((await response.Content.ReadFromJsonAsync<JsonObject>())!["data"]!.AsArray());
        Assert.Equal("sim", response.Headers.GetValues("x-relay-provider").Single());
    }

    [Theory]
    [InlineData("data: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\",\"code\":\"overloaded\"}}\n\n", "overloaded", "boom")]
    [InlineData("data: <html>oops</html>\n\n", "upstream_invalid_response", "not JSON")]
    [InlineData("data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1}\n\n", "upstream_invalid_response", "no 'choices'")]
    public async Task After_the_first_chunk_an_error_or_a_non_chunk_ends_the_stream_with_an_error_event(string second, string code, string reason)
    {
        _upstream.Streams($"data: {Chunk}\n\n{second}data: {Chunk}\n\ndata: [DONE]\n\n");
        using var client = _host.ClientFor(Key);
        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(Chat("chat", stream: true)));
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("raw", response.Headers.GetValues("x-relay-provider").Single()); // past the first byte: no fallback
        var payloads = SseText.DataPayloads(body);
        Assert.Equal(2, payloads.Count); // the first chunk, then the error event: nothing after it, no [DONE]
        Assert.Equal("Hi", SseText.Content(body[..body.LastIndexOf("data:", StringComparison.Ordinal)]));
        var error = JsonNode.Parse(payloads[^1])!["error"]!;
        Assert.Equal(code, (string?)error["code"]);
        Assert.Contains(reason, (string)error["message"]!, StringComparison.Ordinal);

        await _host.WaitForIdleAsync("t1");
        var usage = await _host.UsageAsync("t1");
        Assert.Equal(1, (long)usage["by_ending"]!["upstream_error_mid_stream"]!);
        Assert.Null(usage["by_ending"]!["completed"]);
    }

    [Theory]
    // Azure OpenAI's first chunk: no choices, the prompt's filter results (and empty id/model/object).
    [InlineData("""{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}}}]}""")]
    // A chunk that says "error": null, as some compatible servers add to every chunk.
    [InlineData("""{"id":"c0","object":"chat.completion.chunk","created":1,"model":"x","error":null,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}""")]
    public async Task A_legal_first_chunk_without_content_streams_through(string first)
    {
        _upstream.Streams($"data: {first}\n\ndata: {Chunk}\n\ndata: [DONE]\n\n");
        using var client = _host.ClientFor(Key);
        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(Chat("raw-chat", stream: true)));
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Hi", SseText.Content(body));
        Assert.Equal([first, Chunk, "[DONE]"], SseText.DataPayloads(body));
        Assert.Equal(1, _upstream.Calls);
        await _host.WaitForIdleAsync("t1");
        Assert.Equal(1, (long)(await _host.UsageAsync("t1"))["by_ending"]!["completed"]!);
    }

    [Fact]
    public async Task An_event_that_never_ends_is_cut_with_an_error_event_not_held_whole()
    {
        // After a chunk, one event whose line goes on and on: the relay holds an event whole to vet it, so it must
        // stop at its bound (8 MiB) rather than gather all of it. 64 MiB at most, so a relay without a bound ends too.
        _upstream.Handler = async context =>
        {
            context.Response.ContentType = "text/event-stream";
            await context.Response.Body.WriteAsync(System.Text.Encoding.UTF8.GetBytes($"data: {Chunk}\n\ndata: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\""));
            var piece = new byte[64 * 1024];
            piece.AsSpan().Fill((byte)'a');
            try
            {
                for (var sent = 0L; sent < 64L * 1024 * 1024 && !context.RequestAborted.IsCancellationRequested; sent += piece.Length)
                {
                    await context.Response.Body.WriteAsync(piece, context.RequestAborted);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException)
            {
                // the relay let go
            }
        };
        using var client = _host.ClientFor(Key);
        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(Chat("raw-chat", stream: true)));
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var payloads = SseText.DataPayloads(body);
        Assert.Equal(2, payloads.Count); // the first chunk, then the error event, no [DONE]
        var error = JsonNode.Parse(payloads[^1])!["error"]!;
        Assert.Equal("upstream_invalid_response", (string?)error["code"]);
        // The bound's own message: without it the relay gathered all 64 MiB and then found the event was not JSON.
        Assert.Contains("more than 8388608 bytes", (string)error["message"]!, StringComparison.Ordinal);

        await _host.WaitForIdleAsync("t1");
        Assert.Equal(1, (long)(await _host.UsageAsync("t1"))["by_ending"]!["upstream_error_mid_stream"]!);
    }

    [Fact]
    public async Task A_synchronous_batch_gives_the_same_502_for_its_item()
    {
        _upstream.Answers(200, "application/json", """{"error":{"message":"quota gone"}}""");
        using var client = _host.ClientFor(Key);
        var items = new JsonArray(JsonNode.Parse(Chat("raw-chat", stream: false)), JsonNode.Parse(Chat("mock-fast", stream: false)));
        using var response = await client.PostAsync("/v1/batch", RelayHost.Json(new JsonObject { ["requests"] = items }.ToJsonString()));
        var results = (await response.Content.ReadFromJsonAsync<JsonObject>())!["results"]!.AsArray();

        Assert.Equal([502, 200], results.Select(r => (int)r!["status"]!));
        Assert.Equal("upstream_invalid_response", (string?)results[0]!["error"]!["code"]);
        Assert.Contains("quota gone", (string)results[0]!["error"]!["message"]!, StringComparison.Ordinal);
        Assert.Null(results[0]!["response"]);

        await _host.WaitForIdleAsync("t1");
        var usage = await _host.UsageAsync("t1");
        Assert.Equal(1, (long)usage["by_ending"]!["upstream_error"]!);
        Assert.Equal(1, (long)usage["by_ending"]!["completed"]!);
    }

    [Fact]
    public async Task A_shadow_answer_that_is_not_a_completion_counts_as_a_failed_shadow()
    {
        _upstream.Answers(200, "application/json", """{"error":{"message":"quota gone"}}""");
        using var client = _host.ClientFor(Key);
        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(Chat("shadowed", stream: false)));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        using var admin = _host.ClientFor(RelayHost.AdminKey);
        var view = await Eventually.WaitAsync(() => admin.GetFromJsonAsync<JsonObject>("/admin/routes/shadowed/shadow"),
            v => (long)v!["aggregates"]!["compared"]! == 1);
        Assert.Equal(1, (long)view!["aggregates"]!["shadow_failures"]!);
        Assert.Equal(502, (int)view["recent"]![0]!["shadow_status"]!);
        Assert.Equal(1, _upstream.Calls);
    }
}
