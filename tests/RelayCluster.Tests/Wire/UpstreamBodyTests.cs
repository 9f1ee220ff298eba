using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RelayCluster.Core.Wire;

namespace RelayCluster.Tests.Wire;

/// <summary>
/// The in-place rewrite of a caller's body must say what serializing the rewritten tree says (same JSON value), keep
/// the caller's bytes otherwise, and give up (null) on whatever it does not handle, so the tree is serialized instead.
/// </summary>
public sealed class UpstreamBodyTests
{
    private static string? Rewrite(string body, string model, bool stream) =>
        UpstreamBody.Rewrite(Encoding.UTF8.GetBytes(body), model, stream) is { } bytes ? Encoding.UTF8.GetString(bytes) : null;

    /// <summary>What the tree path sends: parse, <see cref="RelayRequest.PrepareForUpstream"/>'s edits, serialize.</summary>
    private static JsonNode TreeRewrite(string body, string model, bool stream)
    {
        var tree = JsonNode.Parse(body)!.AsObject();
        tree["model"] = model;
        if (stream)
        {
            var options = tree["stream_options"] as JsonObject ?? new JsonObject();
            options["include_usage"] = true;
            tree["stream_options"] = options;
        }

        return JsonNode.Parse(JsonSerializer.SerializeToUtf8Bytes(tree))!;
    }

    [Theory]
    [InlineData("""{"model":"remote-fast","messages":[{"role":"user","content":"Hi"}],"max_tokens":16}""", false)]
    [InlineData("""{"messages":[{"role":"user","content":"Hi \"model\": x"}],"model":"a","stream":true}""", true)]
    [InlineData(""" { "model" : "a" , "tools":[{"model":"inner"}], "n": 2 } """, true)]
    [InlineData("""{"mod\u0065l":"escaped-name","input":"x"}""", false)]
    [InlineData("""{"model":"caf\u00e9","input":["é", "日本"]}""", false)]
    public void The_rewrite_says_what_the_serialized_tree_says(string body, bool stream)
    {
        foreach (var model in new[] { "mock-fast", "org/model:v1.2", "café \"quoted\" <model>" })
        {
            var rewritten = Rewrite(body, model, stream);
            Assert.NotNull(rewritten);
            Assert.True(JsonNode.DeepEquals(TreeRewrite(body, model, stream), JsonNode.Parse(rewritten)), rewritten);
        }
    }

    [Fact]
    public void Everything_but_the_model_is_sent_byte_for_byte()
    {
        Assert.Equal("""{ "model":"up", "messages":[ {"role":"user","content":"\u00e9"} ] }""",
            Rewrite("""{ "model":"remote-fast", "messages":[ {"role":"user","content":"\u00e9"} ] }""", "up", stream: false));
        Assert.Equal("""{"model":"up","stream":true,"stream_options":{"include_usage":true}}""",
            Rewrite("""{"model":"x","stream":true}""", "up", stream: true));
    }

    [Theory]
    [InlineData("""{"model":"x","stream":true,"stream_options":{"include_usage":false}}""", true)]
    [InlineData("""{"model":7}""", false)]
    [InlineData("""{"input":"no model"}""", false)]
    [InlineData("""[{"model":"x"}]""", false)]
    [InlineData("""{"model":"x",}""", false)]
    [InlineData("""{"model":"x" """, false)]
    public void Bodies_it_does_not_handle_are_left_to_the_tree(string body, bool stream) =>
        Assert.Null(Rewrite(body, "up", stream));
}
