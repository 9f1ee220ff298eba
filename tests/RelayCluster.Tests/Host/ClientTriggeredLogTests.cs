using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>
/// What any client can do (hang up mid-stream, subscribe to a stream its token does not grant) ends as an ordinary
/// ending or a refusal, never as an error-level log entry with a stack trace: otherwise any client fills the error log.
/// </summary>
public sealed class ClientTriggeredLogTests : IDisposable
{
    private const string Key = "sk-client-log-key";
    private const string KestrelConnections = "Microsoft.AspNetCore.Server.Kestrel.Connections";
    private readonly LogCapture _logs = new();
    private readonly RelayHost _host;

    public ClientTriggeredLogTests() => _host = new RelayHost(
        RelayHost.SimulatorSettings(("Relay:Tenants:t1:Keys:0", Key), ($"Logging:LogLevel:{KestrelConnections}", "Debug")),
        replaceServices: services => services.AddSingleton<ILoggerProvider>(_logs));

    public void Dispose() => _host.Dispose();

    /// <summary>
    /// A client hanging up mid-stream fired the request-aborted callback on IdleTimeoutStream's source after the relay
    /// had disposed the stream (ObjectDisposedException, "An unhandled exception was thrown by the application").
    /// </summary>
    [Fact]
    public async Task A_client_hanging_up_mid_stream_logs_no_error()
    {
        using (var client = _host.DisconnectingClientFor(Key))
        {
            for (var i = 0; i < 5; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
                { Content = RelayHost.Json(RelayHost.Chat("hang up [[sim tokens=2000 interval=5]]", stream: true, new { max_tokens = 2000 })) };
                using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
                for (var lines = 0; lines < 20 && await reader.ReadLineAsync() is not null; lines++)
                {
                }
            }
        }

        await _host.WaitForIdleAsync("t1");
        // Kestrel is done with a connection (its abort callbacks included) when it logs the connection's stop.
        await Eventually.WaitAsync(() => Task.FromResult(ConnectionEvents()), e => e.Started >= 5 && e.Started == e.Stopped);
        Assert.DoesNotContain(_logs.Entries, e => e.Level >= LogLevel.Error);
    }

    /// <summary>
    /// A subscription whose token grants another stream is refused (the client gets the reason as the invocation's
    /// error) without the "Failed while sending stream items" error SignalR logs for a throw inside a running stream.
    /// </summary>
    [Theory]
    [InlineData("Subscribe")]
    [InlineData("SubscribeBatched")]
    public async Task A_stream_subscription_with_a_token_for_another_stream_is_refused_and_logs_no_error(string target)
    {
        var granted = await FanOutAsync();
        var other = await FanOutAsync();
        using var tenant = _host.ClientFor(Key);
        var token = (string)(await (await tenant.PostAsync($"/v1/streams/{granted}/token", null)).Content.ReadFromJsonAsync<JsonObject>())!["token"]!;
        using var client = _host.CreateClient();
        var access = $"access_token={Uri.EscapeDataString(token)}";

        // SignalR over long polling, by hand (JSON protocol): negotiate, handshake, invoke, then poll for the answer.
        var negotiated = await (await client.PostAsync($"/hubs/streams/negotiate?negotiateVersion=1&{access}", null)).Content.ReadFromJsonAsync<JsonObject>();
        var connection = $"/hubs/streams?id={Uri.EscapeDataString((string)negotiated!["connectionToken"]!)}&{access}";
        Assert.True((await client.PostAsync(connection, Frame("""{"protocol":"json","version":1}"""))).IsSuccessStatusCode);
        var invocation = new JsonObject { ["type"] = 4, ["invocationId"] = "1", ["target"] = target, ["arguments"] = new JsonArray(other, 1) };
        Assert.True((await client.PostAsync(connection, Frame(invocation.ToJsonString()))).IsSuccessStatusCode);

        var completion = await Eventually.WaitAsync(async () => await PollForCompletionAsync(client, connection), c => c is not null);

        Assert.Contains("does not grant", (string?)completion!["error"], StringComparison.Ordinal);
        Assert.DoesNotContain(_logs.Entries, e => e.Level >= LogLevel.Error);
    }

    private static StringContent Frame(string json) => new(json + "\u001e", Encoding.UTF8, "text/plain");

    /// <summary>One long poll: the completion message of invocation 1, if it came in this poll.</summary>
    private static async Task<JsonObject?> PollForCompletionAsync(HttpClient client, string connection)
    {
        var text = await client.GetStringAsync(connection);
        return text.Split('\u001e', StringSplitOptions.RemoveEmptyEntries)
            .Select(m => JsonNode.Parse(m) as JsonObject)
            .FirstOrDefault(m => (int?)m?["type"] == 3 && (string?)m["invocationId"] == "1");
    }

    private async Task<string> FanOutAsync()
    {
        using var client = _host.ClientFor(Key);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = RelayHost.Json(RelayHost.Chat("fan out", stream: false)) };
        request.Headers.Add("x-relay-fanout", "true");
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response.Headers.GetValues("x-relay-stream-id").Single();
    }

    private (int Started, int Stopped) ConnectionEvents()
    {
        var events = _logs.Entries.Where(e => e.Category == KestrelConnections).ToList();
        return (events.Count(e => e.Message.EndsWith("started.", StringComparison.Ordinal)), events.Count(e => e.Message.EndsWith("stopped.", StringComparison.Ordinal)));
    }
}

/// <summary>HubFailures takes over SignalR's error log for hub methods, so it must watch every stream a hub method returns.</summary>
public sealed class HubFailuresCoverageTests
{
    [Fact]
    public void Every_stream_a_hub_method_returns_is_watched()
    {
        var hubs = typeof(RelayCluster.Silo.Streams.StreamsHub).Assembly.GetTypes().Where(t => t.IsSubclassOf(typeof(Microsoft.AspNetCore.SignalR.Hub)));
        var streams = hubs.SelectMany(h => h.GetMethods(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.DeclaredOnly))
            .Select(m => m.ReturnType)
            .Where(t => t.IsGenericType && t.GetGenericTypeDefinition() == typeof(IAsyncEnumerable<>))
            .ToList();

        Assert.NotEmpty(streams);
        Assert.All(streams, t => Assert.Contains(t, RelayCluster.Silo.Streams.HubFailures.WatchedStreams));
        Assert.All(hubs.SelectMany(h => h.GetMethods(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.DeclaredOnly)),
            m => Assert.False(m.ReturnType.IsGenericType && m.ReturnType.GetGenericTypeDefinition() == typeof(System.Threading.Channels.ChannelReader<>), $"{m.Name} returns a ChannelReader, which HubFailures does not watch"));
    }
}
