using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>
/// A streaming client that never reads is timed out by the send deadline: its slot, reservation and upstream call
/// are freed, and what was relayed is billed as client_disconnected.
/// </summary>
public sealed class StalledReaderTests : IDisposable
{
    private const string Key = "sk-stalled-reader-key";
    // Enough output to outlast the loopback socket buffers (several MiB once autotuned) before the client is cut off:
    // chunks that arrive together share one send, so the kernel holds more of them than when each was its own send.
    private const int Tokens = 100_000;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(1);

    // Slack for filling the socket buffers before the first stalled send, plus polling; well under the 15 s after
    // which SignalR would drop a long-polling connection that stopped polling on its own.
    private static readonly TimeSpan Margin = TimeSpan.FromSeconds(8);

    private readonly RelayHost _host = new(
        RelayHost.SimulatorSettings(
            ("Relay:Tenants:t1:Keys:0", Key),
            ("Relay:Models:mock-fast:DefaultMaxOutputTokens", "100000"),
            ("Relay:Streams:ClientSendTimeoutSeconds", Deadline.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture))),
        replaceServices: services => services.Configure<KestrelServerOptions>(k => k.Limits.MaxResponseBufferSize = 4096));

    public void Dispose() => _host.Dispose();

    private static string Request(bool stream) => (string)RelayHost.Chat($"long answer [[sim tokens={Tokens} interval=0]]", stream, new { max_tokens = Tokens });

    [Fact]
    public async Task An_sse_client_that_never_reads_is_cut_off_and_its_slot_freed()
    {
        await using var raw = await RawHttp.ConnectAsync(_host, receiveBuffer: 4096);
        var body = Request(stream: true);
        await raw.SendAsync($"POST /v1/chat/completions HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer {Key}\r\nContent-Type: application/json\r\n"
            + $"Content-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n{body}");

        // Never read: the relay's sends stall once the socket buffers are full.
        await AssertDisconnectedAsync();
    }

    [Fact]
    public async Task A_completions_hub_client_that_never_reads_is_cut_off_and_its_slot_freed()
    {
        // Long polling over plain HTTP: a client that stops polling takes nothing, exactly like one that stops reading.
        using var client = _host.ClientFor(Key);
        using var negotiate = await client.PostAsync("/hubs/completions/negotiate?negotiateVersion=1", null);
        Assert.Equal(HttpStatusCode.OK, negotiate.StatusCode);
        var token = (string)(await negotiate.Content.ReadFromJsonAsync<JsonObject>())!["connectionToken"]!;
        var url = $"/hubs/completions?id={Uri.EscapeDataString(token)}";
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(url)).StatusCode); // the first poll starts the connection

        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync(url, new StringContent("{\"protocol\":\"json\",\"version\":1}\u001e"))).StatusCode);
        var invocation = new JsonObject
        {
            ["type"] = 4, ["invocationId"] = "1", ["target"] = "Complete", ["arguments"] = new JsonArray(JsonNode.Parse(Request(stream: false))),
        };
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync(url, new StringContent(invocation.ToJsonString() + "\u001e"))).StatusCode);

        await AssertDisconnectedAsync();
    }

    private async Task AssertDisconnectedAsync()
    {
        var usage = await Eventually.WaitAsync(
            () => _host.UsageAsync("t1"),
            u => u["by_ending"]?["client_disconnected"] is not null,
            Deadline + Margin);
        Assert.Equal(1, (long?)usage!["by_ending"]!["client_disconnected"]);
        var quota = await _host.WaitForIdleAsync("t1", TimeSpan.FromSeconds(1));
        Assert.Equal(0, (int)quota["in_flight"]!);
        Assert.Equal(0, (long)quota["reserved_nanos"]!);

        // Billed for what was relayed before the stall, not for the whole answer.
        Assert.InRange((long)usage["completion_tokens"]!, 1, Tokens - 1);
        Assert.True((long)quota["spent_nanos"]! > 0);
    }
}
