using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using RelayCluster.Core.Streams;
using RelayCluster.Silo.Console.Live;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Live;

/// <summary>
/// <c>/hubs/admin</c> takes only an admin token: no token, a subscribe token, an expired admin token, or the admin key
/// (in the query or as a bearer) are refused at negotiate with a 401 envelope; an admin token is no subscribe token.
/// </summary>
public sealed class AdminHubTokenTests : IDisposable
{
    private readonly RelayHost _host = new(RelayHost.SimulatorSettings(("Relay:Tenants:t1:Keys:0", "sk-admin-hub-token-key")));

    public void Dispose() => _host.Dispose();

    private async Task<(HttpStatusCode Status, string? Code)> NegotiateAsync(string? token, bool inQuery = true)
    {
        using var client = _host.CreateClient();
        var url = "/hubs/admin/negotiate?negotiateVersion=1" + (token is not null && inQuery ? "&access_token=" + Uri.EscapeDataString(token) : "");
        using var request = new HttpRequestMessage(HttpMethod.Post, url);
        if (token is not null && !inQuery)
        {
            request.Headers.Authorization = new("Bearer", token);
        }

        using var response = await client.SendAsync(request);
        var code = response.StatusCode == HttpStatusCode.OK ? null : (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["code"];
        return (response.StatusCode, code);
    }

    [Fact]
    public async Task Negotiate_needs_an_admin_token_in_the_query_or_as_a_bearer()
    {
        var token = await AdminHubClient.TokenAsync(_host.Address);

        Assert.Equal((HttpStatusCode.OK, null), await NegotiateAsync(token));
        Assert.Equal((HttpStatusCode.OK, null), await NegotiateAsync(token, inQuery: false));
        Assert.Equal((HttpStatusCode.Unauthorized, "invalid_admin_token"), await NegotiateAsync(null));
        Assert.Equal((HttpStatusCode.Unauthorized, "invalid_admin_token"), await NegotiateAsync(token[..^2] + (token[^2..] == "AA" ? "AB" : "AA")));
        Assert.Equal((HttpStatusCode.Unauthorized, "admin_key_in_url"), await NegotiateAsync(RelayHost.AdminKey));
        Assert.Equal((HttpStatusCode.Unauthorized, "invalid_admin_token"), await NegotiateAsync(RelayHost.AdminKey, inQuery: false));
        Assert.Equal((HttpStatusCode.Unauthorized, "invalid_admin_token"), await NegotiateAsync("sk-admin-hub-token-key", inQuery: false));
    }

    [Fact]
    public async Task Negotiate_spelled_another_way_still_needs_an_admin_token()
    {
        // Routing ignores a trailing slash and case, and negotiate ignores an id: the first three were handed a connection.
        using var client = _host.CreateClient();
        foreach (var url in (string[])["/hubs/admin/negotiate/?negotiateVersion=1", "/hubs/admin/NEGOTIATE?negotiateVersion=1",
            "/hubs/admin/Negotiate/", "/hubs/admin/negotiate?negotiateVersion=1&id=x"])
        {
            using var response = await client.PostAsync(url, null);

            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("invalid_admin_token", (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["code"]);
        }
    }

    [Fact]
    public async Task An_admin_token_is_not_the_admin_key()
    {
        var token = await AdminHubClient.TokenAsync(_host.Address);
        using var admin = _host.ClientFor(token);

        Assert.Equal(HttpStatusCode.Unauthorized, (await admin.GetAsync("/admin/tenants")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await admin.PostAsync("/admin/console/token", null)).StatusCode);
    }

    [Fact]
    public async Task The_token_endpoint_needs_the_admin_key()
    {
        using var anonymous = _host.CreateClient();
        using var tenant = _host.ClientFor("sk-admin-hub-token-key");
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync("/admin/console/token", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await tenant.PostAsync("/admin/console/token", null)).StatusCode);

        using var admin = _host.ClientFor(RelayHost.AdminKey);
        var issued = (await (await admin.PostAsync("/admin/console/token", null)).Content.ReadFromJsonAsync<JsonObject>())!;
        var expiresIn = (long)issued["expires_at"]! - DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Assert.InRange(expiresIn, 590, 600);
    }

    [Fact]
    public async Task An_expired_admin_token_is_refused()
    {
        var streams = _host.Services.GetRequiredService<StreamTokens>();
        var elevenMinutesAgo = new ManualClock(DateTimeOffset.UtcNow.AddMinutes(-11));
        var (expired, _) = new AdminTokens(streams, elevenMinutesAgo).Issue();

        Assert.Equal((HttpStatusCode.Unauthorized, "invalid_admin_token"), await NegotiateAsync(expired));
        Assert.True(new AdminTokens(streams, elevenMinutesAgo).IsValid(expired)); // genuine: refused for its age alone
    }

    [Fact]
    public async Task Stream_tokens_and_admin_tokens_are_never_interchangeable()
    {
        var streams = _host.Services.GetRequiredService<StreamTokens>();
        var (streamToken, _) = streams.Issue("t1", "chatcmpl-x", TimeSpan.FromMinutes(10));
        var adminToken = await AdminHubClient.TokenAsync(_host.Address);

        Assert.Equal((HttpStatusCode.Unauthorized, "invalid_admin_token"), await NegotiateAsync(streamToken));
        Assert.False(_host.Services.GetRequiredService<AdminTokens>().IsValid(streamToken));

        Assert.Null(streams.Validate(adminToken));
        using var client = _host.CreateClient();
        using var streamsHub = await client.PostAsync("/hubs/streams/negotiate?negotiateVersion=1&access_token=" + Uri.EscapeDataString(adminToken), null);
        Assert.Equal(HttpStatusCode.Unauthorized, streamsHub.StatusCode);
    }

    [Fact]
    public async Task The_dotnet_client_without_a_token_is_refused_and_with_one_connects()
    {
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => AdminHubClient.ConnectAsync(_host.Address, token: "not-a-token"));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);

        await using var hub = await AdminHubClient.ConnectAsync(_host.Address);
        var rows = await hub.WatchTenantsAsync();
        Assert.Equal("t1", (string?)Assert.Single(rows)!["id"]);
    }
}
