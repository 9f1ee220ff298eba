using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>
/// A body sent slower than the server's minimum data rate, on every kind of body-reading endpoint, is a 408 with the
/// OpenAI envelope: no 500, no error-level stack trace, nothing left admitted.
/// </summary>
public sealed class SlowBodyTests : IDisposable
{
    private const string Key = "sk-slow-body-key";
    private readonly LogCapture _logs = new();
    private readonly RelayHost _host;

    public SlowBodyTests() => _host = new RelayHost(
        RelayHost.SimulatorSettings(("Relay:Tenants:t1:Keys:0", Key)),
        replaceServices: services =>
        {
            services.AddSingleton<ILoggerProvider>(_logs);
            // A grace period of 1.5 s instead of five, so the test is quick; the rule is the same.
            services.Configure<KestrelServerOptions>(k => k.Limits.MinRequestBodyDataRate = new MinDataRate(240, TimeSpan.FromSeconds(1.5)));
        });

    public void Dispose() => _host.Dispose();

    [Theory]
    [InlineData("POST", "/v1/chat/completions", Key, "application/json")]
    [InlineData("POST", "/v1/embeddings", Key, "application/json")]
    [InlineData("POST", "/v1/batches", Key, "application/json")]
    [InlineData("POST", "/v1/batch", Key, "application/json")]
    [InlineData("POST", "/v1/files", Key, "multipart/form-data; boundary=b0undary")]
    [InlineData("POST", "/admin/tenants", RelayHost.AdminKey, "application/json")]
    [InlineData("PUT", "/admin/routes/mock-fast", RelayHost.AdminKey, "application/json")]
    public async Task A_body_slower_than_the_minimum_rate_is_a_408_envelope(string method, string path, string key, string contentType)
    {
        await using var raw = await RawHttp.ConnectAsync(_host);
        var start = contentType.StartsWith("multipart", StringComparison.Ordinal)
            ? "--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jsonl\"\r\n\r\n{\"a\":"
            : "{\"model\":";
        await raw.SendAsync($"{method} {path} HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer {key}\r\nContent-Type: {contentType}\r\n"
            + $"Content-Length: 100000\r\n\r\n{start}");

        var (status, head, body) = await raw.ReadResponseAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(408, status);
        Assert.Contains("application/json", head, StringComparison.Ordinal);
        var error = JsonNode.Parse(body)!["error"]!.AsObject();
        Assert.Equal(["message", "type", "param", "code"], error.Select(p => p.Key));
        Assert.Equal("request_timeout", (string?)error["code"]);
        Assert.DoesNotContain(_logs.Entries, e => e.Level >= LogLevel.Error);
        Assert.Equal(0, (int)(await _host.WaitForIdleAsync("t1"))["in_flight"]!);
    }
}
