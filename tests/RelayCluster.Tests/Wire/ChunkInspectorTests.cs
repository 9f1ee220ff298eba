using System.Text;
using RelayCluster.Core.Wire;

namespace RelayCluster.Tests.Wire;

public sealed class ChunkInspectorTests
{
    private static ChunkFacts Inspect(string json) => ChunkInspector.Inspect(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void A_content_chunk_carries_output_and_no_usage()
    {
        var facts = Inspect("""{"id":"c","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}],"usage":null}""");
        Assert.True(facts.HasChoices);
        Assert.True(facts.CarriesOutput);
        Assert.Equal(5, facts.ContentBytes);
        Assert.Null(facts.Usage);
        Assert.False(facts.IsError);
    }

    [Fact]
    public void The_usage_chunk_has_usage_and_no_choices()
    {
        var facts = Inspect("""{"id":"c","choices":[],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0}}}""");
        Assert.False(facts.HasChoices);
        Assert.Equal(new ReportedUsage(19, 10) { CachedTokens = 0 }, facts.Usage);
    }

    [Fact]
    public void Tool_call_fragments_count_as_output()
    {
        var facts = Inspect("""{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":"}}]}}]}""");
        Assert.True(facts.CarriesOutput);
        Assert.True(facts.ContentBytes > 0);
    }

    [Fact]
    public void A_whole_completion_is_read_from_message_and_usage()
    {
        var facts = Inspect("""{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hi there","refusal":null}}],"usage":{"prompt_tokens":3,"completion_tokens":2}}""");
        Assert.Equal(8, facts.ContentBytes);
        Assert.Equal(new ReportedUsage(3, 2), facts.Usage);
    }

    [Theory]
    [InlineData("""{"error":{"message":"boom","type":"server_error","param":null,"code":null}}""", true)]
    [InlineData("""{"error":null,"choices":[]}""", false)]
    public void Error_events_are_recognised(string json, bool isError)
    {
        Assert.Equal(isError, Inspect(json).IsError);
    }

    [Fact]
    public void Garbage_is_counted_as_nothing_rather_than_failing_the_relay()
    {
        Assert.Equal(default, Inspect("not json at all"));
        Assert.False(Inspect("""{"choices":[{"delta":{"content":"x"}""").IsError);
    }

    [Theory]
    [InlineData("""{"id":"c","choices":[{"index":0,"delta":{"content":"Hi"}}]}""", true)]
    [InlineData("""{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}""", true)]
    [InlineData("""{"usage":{"prompt_tokens":1}}""", true)]
    [InlineData("""{"choices":[],"prompt_filter_results":[{"prompt_index":0}],"error":null}""", true)]
    [InlineData("""{"choices":[1,"x",{"delta":{}}]}""", false)] // a list the reader does not follow: left to the full rule
    [InlineData("""{"error":{"message":"overloaded"}}""", false)]
    [InlineData("""{"choices":[{"delta":{}}],"error":"busy"}""", false)]
    [InlineData("""{"id":"c"}""", false)]
    [InlineData("""{"choices":{}}""", false)]
    [InlineData("""{"usage":null}""", false)]
    [InlineData("""[{"choices":[]}]""", false)]
    [InlineData("""{"choices":[]} {"choices":[]}""", false)]
    [InlineData("""{"choices":[]} x""", false)]
    [InlineData("""{"choices":[]""", false)]
    [InlineData("""not json""", false)]
    [InlineData("", false)]
    public void It_vouches_for_a_chunk_only_where_the_full_rule_finds_nothing_wrong(string payload, bool vouched)
    {
        var facts = Inspect(payload);

        Assert.Equal(vouched, facts.IsChunk);
        if (facts.IsChunk)
        {
            // The fast path of StreamingRelay: what it vouches for, the full rule (UpstreamAnswers) must accept.
            Assert.Null(RelayCluster.Silo.Relay.UpstreamAnswers.ProblemWithChunk(Encoding.UTF8.GetBytes(payload)));
        }
    }
}
