using System.IO.Pipelines;
using System.Text;
using System.Text.Json.Nodes;
using RelayCluster.Core.Wire;
using RelayCluster.Tests.Infrastructure;
using RelayCluster.Upstreams.Anthropic;

namespace RelayCluster.Tests.Anthropic;

public sealed class AnthropicStreamTests
{
    private const string Start = """
        event: message_start
        data: {"type":"message_start","message":{"id":"msg_s","type":"message","role":"assistant","content":[],"model":"claude-x","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":3,"cache_read_input_tokens":30,"output_tokens":1}}}

        event: ping
        data: {"type": "ping"}


        """;

    private const string Text = """
        event: content_block_start
        data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there"}}

        event: content_block_stop
        data: {"type":"content_block_stop","index":0}


        """;

    private const string Tool = """
        event: content_block_start
        data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_9","name":"get_weather","input":{}}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Pa"}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"ris\"}"}}

        event: content_block_stop
        data: {"type":"content_block_stop","index":1}


        """;

    private static string End(string stopReason) => $$$"""
        event: message_delta
        data: {"type":"message_delta","delta":{"stop_reason":"{{{stopReason}}}","stop_sequence":null},"usage":{"output_tokens":9}}

        event: message_stop
        data: {"type":"message_stop"}


        """;

    private static async Task<string> TranslateAsync(string anthropicSse, bool includeUsage = true)
    {
        var upstream = new MemoryStream(Encoding.UTF8.GetBytes(anthropicSse));
        await using var response = AnthropicStreamPump.Start(upstream, null, new AnthropicStreamTranslator(1_800_000_000, includeUsage), CancellationToken.None);
        return await new StreamReader(response.Body).ReadToEndAsync();
    }

    [Fact]
    public async Task Text_streams_as_content_deltas_then_finish_then_usage_then_done()
    {
        var sse = await TranslateAsync(Start + Text + End("end_turn"));
        var chunks = SseText.JsonChunks(sse);

        Assert.Equal("[DONE]", SseText.DataPayloads(sse)[^1]);
        Assert.All(chunks, c => Assert.Equal("msg_s", (string?)c["id"]));
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", (string?)c["object"]));
        Assert.All(chunks, c => Assert.Equal("claude-x", (string?)c["model"]));
        Assert.Equal("assistant", (string?)chunks[0]["choices"]![0]!["delta"]!["role"]);
        Assert.Equal("Hello there", SseText.Content(sse));
        Assert.Equal(["stop"], chunks.SelectMany(c => c["choices"]!.AsArray()).Select(c => (string?)c!["finish_reason"]).OfType<string>());

        // The last chunk carries the usage, with cached input counted as prompt and the cumulative output of message_delta.
        var usageChunk = chunks[^1];
        Assert.Empty(usageChunk["choices"]!.AsArray());
        Assert.Equal(
            """{"prompt_tokens":45,"completion_tokens":9,"total_tokens":54,"prompt_tokens_details":{"cached_tokens":30}}""",
            usageChunk["usage"]!.ToJsonString());
        Assert.All(chunks.SkipLast(1), c => Assert.True(c.ContainsKey("usage") && c["usage"] is null));

        // The relay's own reading of these chunks: usage found, every content chunk counted as output.
        var facts = SseText.DataPayloads(sse).SkipLast(1).Select(p => ChunkInspector.Inspect(Encoding.UTF8.GetBytes(p))).ToList();
        Assert.Equal(new ReportedUsage(45, 9) { CachedTokens = 30 }, facts[^1].Usage);
        Assert.Equal(2, facts.Count(f => f.CarriesOutput));
    }

    [Fact]
    public async Task Tool_use_streams_as_indexed_tool_call_deltas()
    {
        var sse = await TranslateAsync(Start + Text + Tool + End("tool_use"));
        var toolDeltas = SseText.JsonChunks(sse)
            .SelectMany(c => c["choices"]!.AsArray())
            .Select(c => c!["delta"]!["tool_calls"]?[0])
            .OfType<JsonNode>()
            .ToList();

        Assert.Equal(3, toolDeltas.Count); // the opening delta and two non-empty fragments; the empty one is skipped
        Assert.All(toolDeltas, d => Assert.Equal(0, (int)d["index"]!)); // OpenAI counts tool calls, not Anthropic's blocks
        Assert.Equal("toolu_9", (string?)toolDeltas[0]["id"]);
        Assert.Equal("function", (string?)toolDeltas[0]["type"]);
        Assert.Equal("get_weather", (string?)toolDeltas[0]["function"]!["name"]);
        Assert.All(toolDeltas.Skip(1), d => Assert.Null(d["id"]));
        var arguments = string.Concat(toolDeltas.Select(d => (string?)d["function"]!["arguments"]));
        Assert.Equal("Paris", (string?)JsonNode.Parse(arguments)!["city"]);
        Assert.Contains(SseText.JsonChunks(sse), c => (string?)c["choices"]!.AsArray().FirstOrDefault()?["finish_reason"] == "tool_calls");
    }

    [Fact]
    public async Task Without_include_usage_there_is_no_usage_chunk_and_no_usage_key()
    {
        var sse = await TranslateAsync(Start + Text + End("max_tokens"), includeUsage: false);
        var chunks = SseText.JsonChunks(sse);
        Assert.All(chunks, c => Assert.False(c.ContainsKey("usage")));
        Assert.All(chunks, c => Assert.NotEmpty(c["choices"]!.AsArray()));
        Assert.Equal("length", (string?)chunks[^1]["choices"]![0]!["finish_reason"]);
        Assert.Equal("[DONE]", SseText.DataPayloads(sse)[^1]);
    }

    [Fact]
    public async Task An_error_event_becomes_an_openai_error_event_and_ends_the_stream()
    {
        var error = """
            event: error
            data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}


            """;
        var sse = await TranslateAsync(Start + Text + error + End("end_turn"));
        var payloads = SseText.DataPayloads(sse);

        Assert.DoesNotContain("[DONE]", payloads);
        var last = JsonNode.Parse(payloads[^1])!;
        Assert.Equal("Overloaded", (string?)last["error"]!["message"]);
        Assert.Equal("server_error", (string?)last["error"]!["type"]);
        Assert.Equal("overloaded", (string?)last["error"]!["code"]);
        Assert.True(ChunkInspector.Inspect(Encoding.UTF8.GetBytes(payloads[^1])).IsError); // what makes the relay report it
        Assert.Equal("Hello there", SseText.Content(sse)); // what came before still arrived
    }

    [Fact]
    public async Task An_upstream_that_ends_without_message_stop_ends_without_done()
    {
        var sse = await TranslateAsync(Start + Text);
        Assert.Equal("Hello there", SseText.Content(sse));
        Assert.DoesNotContain("[DONE]", SseText.DataPayloads(sse));
        Assert.DoesNotContain(SseText.JsonChunks(sse), c => c["error"] is not null);
    }

    [Fact]
    public async Task A_dropped_connection_delivers_what_arrived_then_ends_without_done()
    {
        var upstream = new Pipe();
        await upstream.Writer.WriteAsync(Encoding.UTF8.GetBytes(Start + Text));
        await upstream.Writer.CompleteAsync(new IOException("connection reset"));

        await using var response = AnthropicStreamPump.Start(upstream.Reader.AsStream(), null, new AnthropicStreamTranslator(0, true), CancellationToken.None);
        var sse = await new StreamReader(response.Body).ReadToEndAsync();
        Assert.DoesNotContain("[DONE]", SseText.DataPayloads(sse));
    }

    [Fact]
    public async Task Disposing_the_response_cancels_the_upstream_read_and_releases_the_connection()
    {
        var upstream = new Pipe(); // an upstream that sends the start and then nothing, for ever
        await upstream.Writer.WriteAsync(Encoding.UTF8.GetBytes(Start));
        var released = new TaskCompletionSource();
        var response = AnthropicStreamPump.Start(upstream.Reader.AsStream(), new Released(released), new AnthropicStreamTranslator(0, true), CancellationToken.None);

        var buffer = new byte[4096];
        Assert.True(await response.Body.ReadAsync(buffer) > 0); // the first chunk arrived before the upstream finished
        Assert.False(released.Task.IsCompleted);

        await response.DisposeAsync();
        await released.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    private sealed class Released(TaskCompletionSource signal) : IDisposable
    {
        public void Dispose() => signal.TrySetResult();
    }
}
