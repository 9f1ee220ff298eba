using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>
/// Every legal way an upstream can frame its stream (issue 13, part 1) comes out of the relay as plain SSE the SDKs
/// read: one <c>data: </c> line per event holding one JSON chunk, LF line ends, a blank line after each event, and
/// nothing the caller did not ask for. The upstream is a scripted fake sending each variant byte for byte.
/// </summary>
public sealed class SseFramingTests : IAsyncLifetime
{
    private const string Key = "sk-framing-key";
    private ScriptedUpstream _upstream = null!;
    private RelayHost _host = null!;

    public async Task InitializeAsync()
    {
        _upstream = await ScriptedUpstream.StartAsync();
        _host = new RelayHost(RelayHost.SimulatorSettings(
            ("Relay:Providers:raw:Type", "openai"),
            ("Relay:Providers:raw:BaseUrl", _upstream.BaseUrl),
            ("Relay:Models:raw-chat:Provider", "raw"),
            ("Relay:Models:raw-chat:InputPerMTok", "1"),
            ("Relay:Tenants:t1:Keys:0", Key),
            ("Relay:Tenants:t1:Models:0", "*")));
    }

    public async Task DisposeAsync()
    {
        _host.Dispose();
        await _upstream.DisposeAsync();
    }

    private static string Chunk(string content, bool indented = false) => JsonSerializer.Serialize(
        new JsonObject
        {
            ["id"] = "chatcmpl-1",
            ["object"] = "chat.completion.chunk",
            ["created"] = 1,
            ["model"] = "x",
            ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = new JsonObject { ["content"] = content }, ["finish_reason"] = null }),
        },
        indented ? Indented : JsonSerializerOptions.Default);

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>A chunk's JSON spread over one <c>data:</c> line per line, as an upstream may legally send it.</summary>
    private static string MultiLine(string content, string eol = "\n", string prefix = "data: ") =>
        string.Concat(Chunk(content, indented: true).Split('\n').Select(line => prefix + line.TrimEnd('\r') + eol)) + eol;

    public static TheoryData<string, string> Variants => new()
    {
        { "one line each", $"data: {Chunk("Hello")}\n\ndata: {Chunk(" world")}\n\ndata: [DONE]\n\n" },
        { "multi-line data", $"{MultiLine("Hello")}{MultiLine(" world")}data: [DONE]\n\n" },
        { "event, id, retry and comments", $": hello\nevent: message\nid: 1\nretry: 3000\ndata: {Chunk("Hello")}\n\n: ping\n\nid: 2\ndata: {Chunk(" world")}\n\ndata: [DONE]\n\n" },
        { "CRLF", $"{MultiLine("Hello", "\r\n")}data: {Chunk(" world")}\r\n\r\ndata: [DONE]\r\n\r\n" },
        { "CR", $"{MultiLine("Hello", "\r")}data: {Chunk(" world")}\r\rdata: [DONE]\r\r" },
        { "data: without a space", $"{MultiLine("Hello", "\n", "data:")}data:{Chunk(" world")}\n\ndata:[DONE]\n\n" },
        { "an empty data line", $"data:\n\ndata: {Chunk("Hello")}\n\ndata\n\ndata: {Chunk(" world")}\n\ndata: [DONE]\n\n" },
        { "no blank line after the last event", $"data: {Chunk("Hello")}\n\ndata: {Chunk(" world")}\n\ndata: [DONE]" },
        { "a byte order mark", $"\uFEFF{MultiLine("Hello")}data: {Chunk(" world")}\n\ndata: [DONE]\n\n" },
        // The SDKs end a stream on data that starts with [DONE] (openai-python, openai-node), trailing bytes or not.
        { "[DONE] with trailing spaces", $"data: {Chunk("Hello")}\n\ndata: {Chunk(" world")}\n\ndata: [DONE]  \n\n" },
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task Every_legal_framing_is_relayed_as_one_data_line_per_chunk(string variant, string upstreamStream)
    {
        _upstream.Streams(upstreamStream);
        using var client = _host.ClientFor(Key);
        var body = ((string)RelayHost.Chat("hi", stream: true)).Replace("\"mock-fast\"", "\"raw-chat\"", StringComparison.Ordinal);
        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(body));
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain('\r', text);
        Assert.EndsWith("data: [DONE]\n\n", text, StringComparison.Ordinal);

        // Event by event: each is comment lines or exactly one "data: " line, and that line is a whole JSON chunk.
        var events = text[..^2].Split("\n\n");
        foreach (var sseEvent in events)
        {
            var lines = sseEvent.Split('\n');
            Assert.All(lines, line => Assert.True(line.StartsWith("data: ", StringComparison.Ordinal) || line.StartsWith(':'), $"{variant}: line '{line}'"));
            var data = lines.Where(l => l.StartsWith("data: ", StringComparison.Ordinal)).ToList();
            Assert.True(data.Count <= 1, $"{variant}: event '{sseEvent}'");
            if (data is [var line] && line != "data: [DONE]")
            {
                var chunk = JsonNode.Parse(line[6..])!.AsObject();
                Assert.Equal("chat.completion.chunk", (string?)chunk["object"]);
            }
        }

        Assert.Equal("Hello world", SseText.Content(text));
        Assert.Equal(3, events.Count(e => e.StartsWith("data: ", StringComparison.Ordinal)));
        await _host.WaitForIdleAsync("t1");
        Assert.Equal(1, (long)(await _host.UsageAsync("t1"))["by_ending"]!["completed"]!);
    }
}
