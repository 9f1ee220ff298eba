using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Silo.Api;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>Every error status has the OpenAI envelope, outside /v1 too; pages that are not the API keep working.</summary>
public sealed class ErrorEnvelopeTests : IDisposable
{
    private readonly RelayHost _host = new(RelayHost.SimulatorSettings(("Relay:Tenants:t1:Keys:0", "sk-envelope-key")));

    public void Dispose() => _host.Dispose();

    [Theory]
    [InlineData("GET", "/nope", 404)]
    [InlineData("GET", "/v2/chat/completions", 404)]
    [InlineData("POST", "/healthz", 405)]
    [InlineData("DELETE", "/demo/stream.html", 405)]
    [InlineData("GET", "/demo/no-such-file.js", 404)]
    public async Task Framework_errors_outside_the_api_get_an_envelope(string method, string path, int status)
    {
        using var client = _host.CreateClient();
        using var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        var error = (await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!.AsObject();
        Assert.Equal(["message", "type", "param", "code"], error.Select(p => p.Key));
        Assert.Equal($"Invalid URL ({method} {path}).", (string?)error["message"]);
        Assert.Equal("invalid_request_error", (string?)error["type"]);
        Assert.True(response.Headers.Contains("x-request-id"));
    }

    [Fact]
    public async Task Pages_that_are_not_the_api_keep_their_own_answers()
    {
        using var client = _host.CreateClient();
        Assert.Equal("ok", await client.GetStringAsync("/healthz"));

        using var page = await client.GetAsync("/demo/stream.html");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType!.MediaType);
        Assert.Contains("<script src=\"stream.js\"></script>", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/demo/stream.html")]
    [InlineData("/demo/stream.js")]
    [InlineData("/demo/stream.css")]
    [InlineData("/demo/signalr.min.js")]
    public async Task The_demo_files_are_locked_down(string path)
    {
        using var client = _host.CreateClient();
        using var response = await client.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(DemoApi.ContentSecurityPolicy, response.Headers.GetValues("Content-Security-Policy").Single());
        Assert.DoesNotContain("unsafe", DemoApi.ContentSecurityPolicy, StringComparison.Ordinal);
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
    }

    [Fact]
    public async Task The_demo_page_has_no_inline_script_or_style_for_the_policy_to_block()
    {
        using var client = _host.CreateClient();
        var html = await client.GetStringAsync("/demo/stream.html");

        Assert.DoesNotMatch("<script>|<style|style=\"| on[a-z]+=", html);
    }
}
