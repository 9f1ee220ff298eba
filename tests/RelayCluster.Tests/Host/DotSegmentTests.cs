using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Silo.Http;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>
/// Kestrel removes dot segments (percent-encoded ones too) before routing, so a key id of <c>..</c> once turned
/// "revoke key .." into <c>DELETE /admin/tenants/{id}</c> and deleted the whole tenant. Any dot segment is refused.
/// </summary>
public sealed class DotSegmentTests
{
    private const string Key = "sk-dot-segments-key";

    [Theory]
    [InlineData("DELETE", "/admin/tenants/t1/keys/%2e%2e")]
    [InlineData("DELETE", "/admin/tenants/t1/keys/..")]
    [InlineData("DELETE", "/admin/tenants/t1/keys/%2E.")]
    [InlineData("POST", "/admin/tenants/t1/keys/./../pause")]
    [InlineData("GET", "/v1/files/../models")]
    public async Task A_dot_segment_is_an_invalid_url_and_reaches_no_other_route(string method, string path)
    {
        using var host = new RelayHost(RelayHost.SimulatorSettings(("Relay:Tenants:t1:Keys:0", Key)));

        await using (var raw = await RawHttp.ConnectAsync(host))
        {
            var auth = path.StartsWith("/v1", StringComparison.Ordinal) ? Key : RelayHost.AdminKey;
            await raw.SendAsync($"{method} {path} HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer {auth}\r\nContent-Length: 0\r\n\r\n");
            var (status, _, body) = await raw.ReadResponseAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(404, status);
            Assert.Contains("Invalid URL", body, StringComparison.Ordinal);
        }

        using var admin = host.ClientFor(RelayHost.AdminKey);
        var tenant = await admin.GetFromJsonAsync<JsonObject>("/admin/tenants/t1");
        Assert.False((bool)tenant!["paused"]!);
        using var caller = host.ClientFor(Key);
        Assert.Equal(HttpStatusCode.OK, (await caller.GetAsync("/v1/models")).StatusCode);
    }

    [Theory]
    [InlineData("/a/./b", true)]
    [InlineData("/a/%2e%2E/b?x=1", true)]
    [InlineData("/..", true)]
    [InlineData("/demo/stream.html", false)]
    [InlineData("/v1/files/file-abc?after=..", false)]
    [InlineData("/a/...", false)]
    [InlineData("/a/.b", false)]
    public void Dot_segments_are_found_in_the_path_only(string target, bool expected) =>
        Assert.Equal(expected, DotSegmentGuard.HasDotSegment(target));
}
