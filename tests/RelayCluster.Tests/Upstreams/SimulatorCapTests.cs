using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Core.Configuration;
using RelayCluster.Tests.Infrastructure;
using RelayCluster.Upstreams.Simulator;

namespace RelayCluster.Tests.Upstreams;

/// <summary>
/// The simulator stops where a real provider would: at the output cap the relay's reservation used (the caller's
/// max_tokens, else the model's default), with finish_reason "length". 200 streams asking for 200,000 tokens each
/// once took the silo to 2.4 GB; now each stops at the cap and makes its tokens as it sends them.
/// </summary>
public sealed class SimulatorCapTests : IDisposable
{
    private const string Key = "sk-simulator-cap";
    private readonly RelayHost _host = new(RelayHost.SimulatorSettings(
        ("Relay:Tenants:t1:Keys:0", Key),
        ("Relay:Models:mock-fast:DefaultMaxOutputTokens", "20")));

    public void Dispose() => _host.Dispose();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Without_max_tokens_the_answer_stops_at_the_models_default_cap(bool stream)
    {
        using var client = _host.ClientFor(Key);
        var body = RelayHost.Chat("a very long story [[sim tokens=200000]]", stream, stream ? new { stream_options = new { include_usage = true } } : null);

        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(body));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var (finish, completionTokens, text) = stream ? Streamed(await response.Content.ReadAsStringAsync()) : Whole(await response.Content.ReadFromJsonAsync<JsonObject>());
        Assert.Equal("length", finish);
        Assert.Equal(20, completionTokens);
        Assert.Equal(20, text.Split(' ').Length);
        await _host.WaitForIdleAsync("t1");
    }

    [Fact]
    public async Task A_caller_cap_below_the_default_is_the_cap()
    {
        using var client = _host.ClientFor(Key);
        var body = RelayHost.Chat("short [[sim tokens=200000]]", stream: true, new { max_completion_tokens = 7, stream_options = new { include_usage = true } });

        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(body));

        var (finish, completionTokens, _) = Streamed(await response.Content.ReadAsStringAsync());
        Assert.Equal("length", finish);
        Assert.Equal(7, completionTokens);
    }

    [Theory]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"[[sim tokens=200000]]"}]}""", null, SimulatorEngine.UncappedOutputLimit, true)]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"[[sim tokens=200000]]"}],"max_tokens":99999999999999999999}""", 30L, 30, true)]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"[[sim tokens=5]]"}],"max_tokens":10}""", 30L, 5, false)]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"[[sim tokens=5]]"}],"max_tokens":-4}""", null, 0, true)]
    public void The_engine_caps_by_the_body_the_relay_and_its_own_limit(string json, long? relayCap, int tokens, bool stopsAtCap)
    {
        var engine = new SimulatorEngine(new SimulatorOptions(), TimeProvider.System);

        var script = engine.ScriptFor(JsonNode.Parse(json)!.AsObject(), relayCap);

        Assert.Equal((tokens, stopsAtCap), (script.OutputTokens, script.StopsAtCap));
    }

    private static (string? Finish, long CompletionTokens, string Text) Whole(JsonObject? completion) =>
        ((string?)completion!["choices"]![0]!["finish_reason"], (long)completion["usage"]!["completion_tokens"]!, (string)completion["choices"]![0]!["message"]!["content"]!);

    private static (string? Finish, long CompletionTokens, string Text) Streamed(string sse)
    {
        var chunks = SseText.JsonChunks(sse);
        var finish = chunks.SelectMany(c => c["choices"]!.AsArray()).Select(c => (string?)c!["finish_reason"]).Last(f => f is not null);
        return (finish, (long)chunks.Last(c => c["usage"] is JsonObject)["usage"]!["completion_tokens"]!, SseText.Content(sse));
    }
}
