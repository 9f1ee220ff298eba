using System.Text;
using RelayCluster.Core.Wire;

namespace RelayCluster.Tests.Wire;

public sealed class RequestParserTests
{
    private static (RelayRequest? Request, RelayError? Error) Chat(string json) =>
        RequestParser.Parse(RelayOperation.ChatCompletions, Encoding.UTF8.GetBytes(json));

    [Theory]
    [InlineData("{not json", null, null)]
    [InlineData("[1,2]", null, null)]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}]}""", "model", "missing_required_parameter")]
    [InlineData("""{"model":42,"messages":[]}""", "model", "invalid_type")]
    [InlineData("""{"model":"m"}""", "messages", "missing_required_parameter")]
    [InlineData("""{"model":"m","messages":"hi"}""", "messages", "invalid_type")]
    [InlineData("""{"model":"m","messages":[]}""", "messages", "empty_array")]
    [InlineData("""{"model":"m","messages":[{"role":"robot","content":"hi"}]}""", "messages[0].role", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":7}]}""", "messages[0].content", "invalid_type")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":"yes"}""", "stream", "invalid_type")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":-1}""", "max_tokens", "integer_below_min_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":1.5}""", "max_tokens", "invalid_type")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true}}""", "stream_options", "invalid_value")]
    public void Invalid_chat_bodies_get_a_400_naming_the_field(string json, string? param, string? code)
    {
        var (request, error) = Chat(json);
        Assert.Null(request);
        Assert.Equal(400, error!.Status);
        Assert.Equal("invalid_request_error", error.Error.Type);
        Assert.Equal(param, error.Error.Param);
        Assert.Equal(code, error.Error.Code);
    }

    [Fact]
    public void A_valid_chat_body_yields_what_admission_needs()
    {
        var (request, error) = Chat("""
            {"model":"m","stream":true,"stream_options":{"include_usage":true},"max_completion_tokens":50,"max_tokens":9,"n":2,
             "messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hello"}]}],"temperature":0.3}
            """);
        Assert.Null(error);
        Assert.True(request!.Stream);
        Assert.True(request.IncludeUsage);
        Assert.Equal(50, request.MaxOutputTokens); // max_completion_tokens wins over the deprecated max_tokens
        Assert.Equal(2, request.Choices);
        Assert.Equal(13 + "system".Length + "user".Length, request.Prompt.Utf8Bytes); // the contents and the roles (prompt text too)
        Assert.Equal(2, request.Prompt.Items);
    }

    [Fact]
    public void The_upstream_body_always_asks_for_usage_on_streams_and_keeps_unknown_fields()
    {
        var (request, _) = Chat("""{"model":"alias","stream":true,"messages":[{"role":"user","content":"x"}],"seed":7}""");
        var body = request!.PrepareForUpstream("real-model");
        Assert.Equal("real-model", (string?)body["model"]);
        Assert.True((bool)body["stream_options"]!["include_usage"]!);
        Assert.False(request.IncludeUsage); // the caller did not ask, so the relay will strip the usage chunk
        Assert.Equal(7, (int)body["seed"]!);
    }

    [Fact]
    public void The_worst_case_estimate_covers_dense_text()
    {
        // Multi-byte text tokenizes densest; the estimate must still be at least one token per character.
        var (request, _) = Chat("""{"model":"m","messages":[{"role":"user","content":"日本語のテキスト"}]}""");
        Assert.True(request!.Prompt.WorstCaseTokens >= 8 + 4);
        Assert.True(request.Prompt.BestGuessTokens < request.Prompt.WorstCaseTokens);
    }

    [Theory]
    [InlineData("""{"model":"e"}""", "input")]
    [InlineData("""{"model":"e","input":[]}""", "input")]
    [InlineData("""{"model":"e","input":{"a":1}}""", "input")]
    [InlineData("""{"model":"e","input":"x","encoding_format":"hex"}""", "encoding_format")]
    [InlineData("""{"model":"e","input":"x","dimensions":0}""", "dimensions")]
    public void Invalid_embedding_bodies_get_a_400_naming_the_field(string json, string param)
    {
        var (_, error) = RequestParser.Parse(RelayOperation.Embeddings, Encoding.UTF8.GetBytes(json));
        Assert.Equal(400, error!.Status);
        Assert.Equal(param, error.Error.Param);
    }

    [Fact]
    public void Embedding_inputs_of_every_shape_are_accepted()
    {
        foreach (var input in new[] { "\"text\"", "[\"a\",\"b\"]", "[1,2,3]", "[[1,2],[3]]" })
        {
            var (request, error) = RequestParser.Parse(RelayOperation.Embeddings, Encoding.UTF8.GetBytes($$"""{"model":"e","input":{{input}}}"""));
            Assert.Null(error);
            Assert.True(request!.Prompt.WorstCaseTokens > 0);
        }
    }
}
