using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>
/// The server reads at most the relay's body limit of any request, and of an unauthenticated one nothing after its 401;
/// only an authenticated file upload may be larger.
/// </summary>
public sealed class BodyLimitTests : IDisposable
{
    private const string Key = "sk-body-limit-key";
    private const int MaxBodyBytes = 4096;
    private readonly RelayHost _host = new(RelayHost.SimulatorSettings(
        ("Relay:Requests:MaxBodyBytes", MaxBodyBytes.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ("Relay:Tenants:t1:Keys:0", Key)));

    public void Dispose() => _host.Dispose();

    [Fact]
    public void Kestrel_keeps_a_global_limit()
    {
        Assert.Equal(MaxBodyBytes, _host.Services.GetRequiredService<IOptions<KestrelServerOptions>>().Value.Limits.MaxRequestBodySize);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("sk-not-a-key")]
    public async Task A_401_does_not_drain_a_huge_body(string? key)
    {
        await using var raw = await RawHttp.ConnectAsync(_host);
        var authorization = key is null ? "" : $"Authorization: Bearer {key}\r\n";
        await raw.SendAsync($"POST /v1/chat/completions HTTP/1.1\r\nHost: relay\r\n{authorization}Content-Type: application/json\r\nContent-Length: 2147483648\r\n\r\n{{");

        var (status, head, body) = await raw.ReadResponseAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(401, status);
        Assert.Contains("Connection: close", head, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("invalid_api_key", (string?)JsonNode.Parse(body)!["error"]!["code"]);

        // The server hangs up instead of reading on: writing soon fails, long before 2 GB (or even 64 MB) went out.
        var sent = 0L;
        var chunk = new byte[64 * 1024];
        var watch = Stopwatch.StartNew();
        var refused = false;
        while (sent < 64L * 1024 * 1024 && watch.Elapsed < TimeSpan.FromSeconds(20))
        {
            try
            {
                await raw.Stream.WriteAsync(chunk);
                sent += chunk.Length;
            }
            catch (IOException)
            {
                refused = true;
                break;
            }
        }

        Assert.True(refused, $"the server took {sent} more bytes after its 401");
    }

    [Fact]
    public async Task An_authenticated_chunked_body_over_the_limit_is_a_413_envelope()
    {
        using var client = _host.ClientFor(Key);
        var content = new StreamContent(new MemoryStream(new byte[MaxBodyBytes * 4]));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/admin/tenants") { Content = content };
        request.Headers.TransferEncodingChunked = true;
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", RelayHost.AdminKey);

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("request_too_large", (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["code"]);
    }

    [Fact]
    public async Task A_file_upload_may_exceed_the_ordinary_limit()
    {
        using var client = _host.ClientFor(Key);
        var lines = string.Concat(Enumerable.Range(0, 200).Select(i => $"{{\"custom_id\":\"r{i}\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{{}}}}\n"));
        Assert.True(lines.Length > MaxBodyBytes * 2);
        using var form = new MultipartFormDataContent
        {
            { new StringContent("batch"), "purpose" },
            { new ByteArrayContent(System.Text.Encoding.UTF8.GetBytes(lines)), "file", "input.jsonl" },
        };

        using var response = await client.PostAsync("/v1/files", form);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(lines.Length, (long)(await response.Content.ReadFromJsonAsync<JsonObject>())!["bytes"]!);
    }
}
