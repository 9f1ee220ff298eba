using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using RelayCluster.Core.Streams;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>Subscribe tokens are signed with the cluster's own random key: never derived from the admin key, shared, rotatable.</summary>
public sealed class StreamTokenSecretTests
{
    private const string Key = "sk-token-rotation-key-7f3a9c2e5b1d";

    [Fact]
    public async Task A_token_does_not_depend_on_the_admin_key()
    {
        using var host = new RelayHost(RelayHost.SimulatorSettings(("Relay:Tenants:t1:Keys:0", Key)));
        var token = await IssueOverHttpAsync(host);

        Assert.NotNull(host.Services.GetRequiredService<StreamTokens>().Validate(token));
        // The old derivation (a hash of the admin key) no longer signs anything: an offline guess of the admin key
        // can no longer be checked against a token.
        Assert.Null(new StreamTokens(TokenSecrets.FromText(RelayHost.AdminKey), TimeProvider.System).Validate(token));

        // Two silos with different admin keys but the same token secret accept each other's tokens; the same admin key
        // with different token secrets does not.
        const string Secret = "a-configured-token-secret-0123456789";
        using var a = new RelayHost(RelayHost.SimulatorSettings(("Relay:Streams:TokenSecret", Secret), ("Relay:AdminKey", "admin-one-7c1f0e9d8b2a4c6e8f0a")));
        using var b = new RelayHost(RelayHost.SimulatorSettings(("Relay:Streams:TokenSecret", Secret), ("Relay:AdminKey", "admin-two-3e5a7c9b1d2f4a6c8e0b")));
        var (fromA, _) = a.Services.GetRequiredService<StreamTokens>().Issue("t1", "strm_1", TimeSpan.FromMinutes(10));
        Assert.NotNull(b.Services.GetRequiredService<StreamTokens>().Validate(fromA));
        Assert.Null(host.Services.GetRequiredService<StreamTokens>().Validate(fromA));
    }

    [Fact]
    public async Task The_embedded_key_survives_a_restart_and_rotates_keeping_the_previous_one()
    {
        using var usage = new TempDirectory();
        string first;
        using (var host = new RelayHost(RelayHost.SimulatorSettings(("Relay:Tenants:t1:Keys:0", Key)), usage.Path))
        {
            first = await IssueOverHttpAsync(host);
        }

        using var restarted = new RelayHost(RelayHost.SimulatorSettings(("Relay:Tenants:t1:Keys:0", Key)), usage.Path);
        var tokens = restarted.Services.GetRequiredService<StreamTokens>();
        Assert.NotNull(tokens.Validate(first));

        using var admin = restarted.ClientFor(RelayHost.AdminKey);
        using var rotated = await admin.PostAsync("/admin/stream-tokens/rotate", null);
        Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
        Assert.Equal("""{"object":"stream_tokens.rotation","rotated":true}""", await rotated.Content.ReadAsStringAsync());
        var second = await IssueOverHttpAsync(restarted);
        Assert.NotNull(tokens.Validate(first)); // signed with the previous key
        Assert.NotNull(tokens.Validate(second));

        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync("/admin/stream-tokens/rotate", null)).StatusCode);
        Assert.Null(tokens.Validate(first)); // two rotations ago
        Assert.NotNull(tokens.Validate(second));

        using var tenant = restarted.ClientFor(Key);
        Assert.Equal(HttpStatusCode.Forbidden, (await tenant.PostAsync("/admin/stream-tokens/rotate", null)).StatusCode);
    }

    [Fact]
    public async Task A_configured_secret_is_rotated_by_configuration_not_the_admin_api()
    {
        using var host = new RelayHost(RelayHost.SimulatorSettings(("Relay:Streams:TokenSecret", "a-configured-token-secret-0123456789")));
        using var admin = host.ClientFor(RelayHost.AdminKey);
        using var response = await admin.PostAsync("/admin/stream-tokens/rotate", null);

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("secret_configured", (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["code"]);
    }

    [Fact]
    public async Task Silos_on_one_redis_share_the_key_and_its_rotation()
    {
        await using var redis = new RedisServer();
        await redis.InitializeAsync();
        (string, string?)[] settings = [("Relay:Store", "redis"), ("Relay:Redis", redis.ConnectionString), ("Relay:Tenants:t1:Keys:0", Key)];
        using var one = new RelayHost(RelayHost.SimulatorSettings(settings));
        using var two = new RelayHost(RelayHost.SimulatorSettings(settings));
        var tokensOne = one.Services.GetRequiredService<StreamTokens>();
        var tokensTwo = two.Services.GetRequiredService<StreamTokens>();
        var (before, _) = tokensOne.Issue("t1", "strm_1", TimeSpan.FromMinutes(10));
        Assert.NotNull(tokensTwo.Validate(before));

        using var admin = one.ClientFor(RelayHost.AdminKey);
        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync("/admin/stream-tokens/rotate", null)).StatusCode);
        var (after, _) = tokensOne.Issue("t1", "strm_1", TimeSpan.FromMinutes(10));

        // Silo two learns of the rotation from the store's notice.
        Assert.NotNull(await Eventually.WaitAsync(() => Task.FromResult(tokensTwo.Validate(after)), grant => grant is not null, TimeSpan.FromSeconds(10)));
        Assert.NotNull(tokensTwo.Validate(before));
    }

    private static async Task<string> IssueOverHttpAsync(RelayHost host)
    {
        using var client = host.ClientFor(Key);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = RelayHost.Json(RelayHost.Chat("tokens")) };
        request.Headers.Add("x-relay-fanout", "true");
        using var completion = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, completion.StatusCode);
        var streamId = completion.Headers.GetValues("x-relay-stream-id").Single();

        using var granted = await client.PostAsync($"/v1/streams/{streamId}/token", null);
        Assert.Equal(HttpStatusCode.OK, granted.StatusCode);
        return (string)(await granted.Content.ReadFromJsonAsync<JsonObject>())!["token"]!;
    }
}
