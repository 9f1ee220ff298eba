using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>
/// Anyone can reach <c>/hubs/streams</c>. A connection without a valid subscribe token is refused with a 401 envelope
/// before SignalR runs the hub; refusing it in <c>OnConnectedAsync</c> made SignalR log an error with a stack trace,
/// so an unauthenticated client could fill the error log at will.
/// </summary>
public sealed class StreamsHubGateTests
{
    [Theory]
    [InlineData("/hubs/streams/negotiate?negotiateVersion=1&access_token=forged.token", "POST")]
    [InlineData("/hubs/streams/negotiate?negotiateVersion=1", "POST")]
    [InlineData("/hubs/streams?access_token=forged.token", "GET")]
    public async Task A_connection_without_a_valid_token_is_a_401_envelope_and_logs_no_error(string url, string method)
    {
        var logs = new LogCapture();
        using var host = new RelayHost(
            RelayHost.SimulatorSettings(("Relay:Tenants:t1:Keys:0", "sk-hub-gate-key")),
            replaceServices: services => services.AddSingleton<ILoggerProvider>(logs));
        using var client = host.CreateClient();

        using var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), url));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!;
        Assert.Equal("invalid_subscribe_token", (string?)error["code"]);
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Error);
    }

    [Fact]
    public async Task Negotiate_spelled_another_way_still_needs_a_subscribe_token()
    {
        using var host = new RelayHost(RelayHost.SimulatorSettings(("Relay:Tenants:t1:Keys:0", "sk-hub-gate-key")));
        using var client = host.CreateClient();

        // Routing ignores a trailing slash and case, and negotiate ignores an id: the first two reached negotiate ungated.
        foreach (var url in (string[])["/hubs/streams/negotiate/?negotiateVersion=1", "/hubs/streams/NEGOTIATE?negotiateVersion=1",
            "/hubs/streams/negotiate?negotiateVersion=1&id=x"])
        {
            using var response = await client.PostAsync(url, null);

            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("invalid_subscribe_token", (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["code"]);
        }
    }
}
