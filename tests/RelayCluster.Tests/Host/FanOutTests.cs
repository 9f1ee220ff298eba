using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using RelayCluster.Core.Streams;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>Fan-out: a completion asked for it is copied, token by token, into a stream only its tenant can subscribe to.</summary>
public sealed class FanOutTests : IDisposable
{
    private readonly RelayHost _host = new(RelayHost.SimulatorSettings(
        ("Relay:Tenants:t1:Keys:0", "sk-fanout-one"), ("Relay:Tenants:t2:Keys:0", "sk-fanout-two")));

    public void Dispose() => _host.Dispose();

    private async Task<(string StreamId, string Body)> FanOutAsync(string prompt, bool stream)
    {
        using var client = _host.ClientFor("sk-fanout-one");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = RelayHost.Json(RelayHost.Chat(prompt, stream, new { stream_options = stream ? new { include_usage = true } : null })),
        };
        request.Headers.Add("x-relay-fanout", "true");
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (response.Headers.GetValues("x-relay-stream-id").Single(), await response.Content.ReadAsStringAsync());
    }

    private async Task<List<StreamEntry>> EntriesAsync(string streamId)
    {
        var channel = _host.Services.GetRequiredService<IStreamChannelFactory>().GetChannel(streamId);
        var entries = new List<StreamEntry>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await foreach (var entry in channel.FollowAsync(0, timeout.Token))
        {
            entries.Add(entry);
        }

        return entries;
    }

    [Fact]
    public async Task The_stream_carries_exactly_the_sse_text_then_the_finish_and_usage()
    {
        var (streamId, body) = await FanOutAsync("fan me out [[sim tokens=8]]", stream: true);
        Assert.Matches("^strm_[0-9a-f]{32}$", streamId);

        var entries = await EntriesAsync(streamId);
        Assert.Equal(SseText.Content(body), string.Concat(entries.Where(e => e.Kind == StreamEntryKind.Token).Select(e => e.Data)));
        Assert.Equal(Enumerable.Range(1, entries.Count).Select(i => (long)i), entries.Select(e => e.Sequence));

        var end = JsonNode.Parse(entries[^1].Data)!;
        Assert.Equal(StreamEntryKind.Completed, entries[^1].Kind);
        Assert.Equal("stop", (string?)end["finish_reason"]);
        var usageChunk = SseText.JsonChunks(body).Single(c => c["usage"] is JsonObject)["usage"]!;
        Assert.Equal((int)usageChunk["completion_tokens"]!, (int)end["usage"]!["completion_tokens"]!);
    }

    [Fact]
    public async Task A_plain_completion_fans_out_its_whole_answer_and_a_failure_ends_the_stream_as_failed()
    {
        var (plainId, plainBody) = await FanOutAsync("plain fan out", stream: false);
        var plain = await EntriesAsync(plainId);
        Assert.Equal((string?)JsonNode.Parse(plainBody)!["choices"]![0]!["message"]!["content"], plain[0].Data);
        Assert.Equal(StreamEntryKind.Completed, plain[^1].Kind);

        var (failedId, _) = await FanOutAsync("[[sim mid_error=2]]", stream: true);
        var failed = await EntriesAsync(failedId);
        Assert.Equal(2, failed.Count(e => e.Kind == StreamEntryKind.Token));
        Assert.Equal(StreamEntryKind.Failed, failed[^1].Kind);
        Assert.Equal("upstream_error_mid_stream", (string?)JsonNode.Parse(failed[^1].Data)!["error"]!["code"]);
    }

    [Fact]
    public async Task Only_the_owning_tenant_gets_a_subscribe_token()
    {
        var (streamId, _) = await FanOutAsync("mine", stream: true);
        using var owner = _host.ClientFor("sk-fanout-one");
        using var other = _host.ClientFor("sk-fanout-two");

        using var granted = await owner.PostAsync($"/v1/streams/{streamId}/token", null);
        Assert.Equal(HttpStatusCode.OK, granted.StatusCode);
        var body = (await granted.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(new StreamGrant("t1", streamId, (long)body["expires_at"]!),
            _host.Services.GetRequiredService<StreamTokens>().Validate((string)body["token"]!));

        Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsync($"/v1/streams/{streamId}/token", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await owner.PostAsync("/v1/streams/strm_00000000000000000000000000000000/token", null)).StatusCode);
    }
}
