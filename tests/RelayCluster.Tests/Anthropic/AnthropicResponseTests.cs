using System.Text;
using System.Text.Json.Nodes;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Wire;
using RelayCluster.Upstreams.Anthropic;

namespace RelayCluster.Tests.Anthropic;

public sealed class AnthropicResponseTests
{
    private static JsonObject Translate(string message) =>
        JsonNode.Parse(AnthropicResponse.ToChatCompletion(Encoding.UTF8.GetBytes(message), 1_800_000_000)!)!.AsObject();

    [Fact]
    public void Text_blocks_are_joined_and_usage_counts_cached_input_as_prompt()
    {
        var completion = Translate("""
            {"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[
              {"type":"thinking","thinking":"hmm","signature":"s"},{"type":"text","text":"Hello"},{"type":"text","text":" world"}],
             "stop_reason":"end_turn","stop_sequence":null,
             "usage":{"input_tokens":10,"cache_creation_input_tokens":5,"cache_read_input_tokens":20,"output_tokens":7}}
            """);

        Assert.Equal("msg_1", (string?)completion["id"]);
        Assert.Equal("chat.completion", (string?)completion["object"]);
        Assert.Equal(1_800_000_000, (long)completion["created"]!);
        Assert.Equal("claude-x", (string?)completion["model"]);
        var choice = completion["choices"]![0]!;
        Assert.Equal("Hello world", (string?)choice["message"]!["content"]);
        Assert.Equal("assistant", (string?)choice["message"]!["role"]);
        Assert.Null(choice["message"]!["tool_calls"]);
        Assert.Equal("stop", (string?)choice["finish_reason"]);
        Assert.Equal(
            """{"prompt_tokens":35,"completion_tokens":7,"total_tokens":42,"prompt_tokens_details":{"cached_tokens":20}}""",
            completion["usage"]!.ToJsonString());

        // What the relay meters is what the caller sees.
        var facts = ChunkInspector.Inspect(Encoding.UTF8.GetBytes(completion.ToJsonString()));
        Assert.Equal(new ReportedUsage(35, 7) { CachedTokens = 20 }, facts.Usage);
    }

    [Fact]
    public void Tool_use_blocks_become_tool_calls_with_json_string_arguments()
    {
        var completion = Translate("""
            {"id":"msg_2","model":"claude-x","content":[
              {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris","days":[1,2]}}],
             "stop_reason":"tool_use","usage":{"input_tokens":3,"output_tokens":4}}
            """);

        var message = completion["choices"]![0]!["message"]!;
        Assert.Null(message["content"]); // OpenAI sends null content with a pure tool call
        var call = message["tool_calls"]![0]!;
        Assert.Equal("toolu_1", (string?)call["id"]);
        Assert.Equal("function", (string?)call["type"]);
        Assert.Equal("get_weather", (string?)call["function"]!["name"]);
        Assert.Equal("""{"city":"Paris","days":[1,2]}""", JsonNode.Parse((string)call["function"]!["arguments"]!)!.ToJsonString());
        Assert.Equal("tool_calls", (string?)completion["choices"]![0]!["finish_reason"]);
        Assert.Equal(7, (long)completion["usage"]!["total_tokens"]!);
        Assert.Equal(0, (long)completion["usage"]!["prompt_tokens_details"]!["cached_tokens"]!);
    }

    [Theory]
    [InlineData("end_turn", "stop")]
    [InlineData("stop_sequence", "stop")]
    [InlineData("max_tokens", "length")]
    [InlineData("tool_use", "tool_calls")]
    [InlineData("refusal", "content_filter")]
    [InlineData("model_context_window_exceeded", "length")]
    public void Stop_reasons_map_to_finish_reasons(string stopReason, string finishReason)
    {
        var completion = Translate($$$"""{"id":"m","model":"c","content":[{"type":"text","text":"x"}],"stop_reason":"{{{stopReason}}}","usage":{"input_tokens":1,"output_tokens":1}}""");
        Assert.Equal(finishReason, (string?)completion["choices"]![0]!["finish_reason"]);
    }

    [Fact]
    public void A_body_that_is_not_a_message_is_reported_as_unreadable()
    {
        Assert.Null(AnthropicResponse.ToChatCompletion("<html>"u8, 0));
        Assert.Null(AnthropicResponse.ToChatCompletion("""{"type":"message"}"""u8, 0));
    }

    [Theory]
    [InlineData(529, """{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}""", null, 503, "server_error", "overloaded", 5)]
    [InlineData(529, """{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}""", 12, 503, "server_error", "overloaded", 12)]
    [InlineData(429, """{"type":"error","error":{"type":"rate_limit_error","message":"Slow down"}}""", 7, 429, "requests", "rate_limit_exceeded", 7)]
    [InlineData(401, """{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}""", null, 401, "invalid_request_error", "invalid_api_key", null)]
    [InlineData(400, """{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}""", null, 400, "invalid_request_error", null, null)]
    [InlineData(413, """{"type":"error","error":{"type":"request_too_large","message":"big"}}""", null, 413, "invalid_request_error", "request_too_large", null)]
    [InlineData(500, """{"type":"error","error":{"type":"api_error","message":"oops"}}""", null, 500, "server_error", null, null)]
    [InlineData(502, "<html>bad gateway</html>", null, 502, "server_error", null, null)]
    public async Task Anthropic_errors_become_openai_envelopes(int status, string body, int? retryAfter, int expectedStatus, string type, string? code, int? expectedRetryAfter)
    {
        await using var response = AnthropicErrors.FromUpstream(
            status, Encoding.UTF8.GetBytes(body), retryAfter is { } r ? TimeSpan.FromSeconds(r) : null, null, new AnthropicOptions { OverloadedRetryAfterSeconds = 5 });
        var error = JsonNode.Parse(await new StreamReader(response.Body).ReadToEndAsync())!["error"]!.AsObject();

        Assert.Equal(expectedStatus, response.StatusCode);
        Assert.Equal(expectedRetryAfter is { } e ? TimeSpan.FromSeconds(e) : null, response.RetryAfter);
        Assert.Equal(type, (string?)error["type"]);
        Assert.Equal(code, (string?)error["code"]);
        Assert.False(string.IsNullOrEmpty((string?)error["message"]));
        Assert.True(error.ContainsKey("param") && error.ContainsKey("code")); // all four keys, as the SDKs expect
    }
}
