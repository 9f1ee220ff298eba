using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>Every kind of bad input gets an OpenAI error envelope with the right status and leaks nothing.</summary>
public sealed class BadInputTests : IDisposable
{
    private const string Key = "sk-bad-input-key";
    private const string EmbedOnlyKey = "sk-embed-only-key";
    private readonly RelayHost _host = new(RelayHost.SimulatorSettings(
        ("Relay:Requests:MaxBodyBytes", "2048"),
        ("Relay:Tenants:t1:Keys:0", Key),
        ("Relay:Tenants:t1:RequestsPerMinute", "1000"),
        ("Relay:Tenants:t2:Keys:0", EmbedOnlyKey),
        ("Relay:Tenants:t2:Models:0", "mock-embed")));

    public void Dispose() => _host.Dispose();

    public static TheoryData<string, int, string?, string?> Bodies => new()
    {
        { "{\"model\": \"mock-fast\", \"messages\": [", 400, null, null },
        { "\"just a string\"", 400, null, null },
        { """{"model":"mock-fast"}""", 400, "messages", "missing_required_parameter" },
        { """{"model":"mock-fast","messages":{"role":"user"}}""", 400, "messages", "invalid_type" },
        { """{"model":"mock-fast","messages":[{"role":"user","content":"x"}],"max_tokens":"ten"}""", 400, "max_tokens", "invalid_type" },
        { """{"model":"no-such-model","messages":[{"role":"user","content":"x"}]}""", 404, "model", "model_not_found" },
        { "{\"model\":\"mock-fast\",\"messages\":[{\"role\":\"user\",\"content\":\"" + new string('x', 3000) + "\"}]}", 413, null, "request_too_large" },
    };

    [Theory]
    [MemberData(nameof(Bodies))]
    public async Task Bad_bodies_get_an_error_envelope_and_leave_the_quota_idle(string body, int status, string? param, string? code)
    {
        using var client = _host.ClientFor(Key);
        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(body));

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        Assert.True(response.Headers.Contains("x-request-id"));
        Assert.True(response.Headers.Contains("x-ratelimit-limit-requests"), "an authenticated tenant's errors carry the rate-limit headers too");
        var error = (await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!.AsObject();
        Assert.Equal(["message", "type", "param", "code"], error.Select(p => p.Key));
        Assert.Equal(param, (string?)error["param"]);
        Assert.Equal(code, (string?)error["code"]);

        var quota = await _host.QuotaAsync("t1");
        Assert.Equal(0, (long)quota["requests_in_window"]!); // refused before admission: nothing counted
        Assert.Equal(0, (int)quota["in_flight"]!);
    }

    [Fact]
    public async Task Missing_and_wrong_keys_get_401_invalid_api_key_without_echoing_the_key()
    {
        using var anonymous = _host.CreateClient();
        using var missing = await anonymous.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("x")));
        using var wrongClient = _host.ClientFor("sk-wrong-key-0123456789");
        using var wrong = await wrongClient.GetAsync("/v1/models");

        foreach (var response in new[] { missing, wrong })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("invalid_api_key", (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["code"]);
        }

        Assert.DoesNotContain("0123456789", await wrong.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_model_outside_the_tenants_list_does_not_exist_for_it()
    {
        using var client = _host.ClientFor(EmbedOnlyKey);
        using var chat = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("x")));
        Assert.Equal(HttpStatusCode.NotFound, chat.StatusCode);

        var models = (await client.GetFromJsonAsync<JsonObject>("/v1/models"))!;
        Assert.Equal(["mock-embed"], models["data"]!.AsArray().Select(m => (string)m!["id"]!));
    }

    [Theory]
    [InlineData("GET", "/v1/chat/completions", HttpStatusCode.MethodNotAllowed)]
    [InlineData("POST", "/v1/chat/complete", HttpStatusCode.NotFound)]
    public async Task Unknown_paths_and_methods_get_an_invalid_url_envelope(string method, string path, HttpStatusCode status)
    {
        using var client = _host.ClientFor(Key);
        using var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = RelayHost.Json("{}") });
        Assert.Equal(status, response.StatusCode);
        var message = (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["message"];
        Assert.Equal($"Invalid URL ({method} {path}).", message);
    }

    [Fact]
    public async Task A_chunked_body_over_the_limit_is_refused_while_it_is_read()
    {
        using var client = _host.ClientFor(Key);
        var content = new StreamContent(new MemoryStream(new byte[10_000]));
        content.Headers.ContentType = new("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = content };
        request.Headers.TransferEncodingChunked = true; // no Content-Length to refuse on

        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }
}
