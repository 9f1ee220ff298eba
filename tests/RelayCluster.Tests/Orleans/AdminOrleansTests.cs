using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Orleans;

/// <summary>/admin/cluster and the Orleans Dashboard at /admin/orleans: never without the admin key.</summary>
public sealed class AdminOrleansTests : IDisposable
{
    private const string TenantKey = "sk-admin-orleans-tests";
    private readonly RelayHost _host = new(RelayHost.SimulatorSettings(("Relay:Tenants:t1:Keys:0", TenantKey), ("Relay:Orleans:Dashboard", "true")));

    public void Dispose() => _host.Dispose();

    [Theory]
    [InlineData("/admin/orleans")]
    [InlineData("/admin/orleans/")]
    [InlineData("/admin/orleans/index.min.js")]
    [InlineData("/admin/orleans/DashboardCounters")]
    [InlineData("/admin/orleans/ClusterStats")]
    [InlineData("/ADMIN/Orleans/DashboardCounters")]
    public async Task The_dashboard_needs_the_admin_key(string path)
    {
        foreach (var authorization in new AuthenticationHeaderValue?[]
        {
            null,
            new("Bearer", "not-the-admin-key"),
            new("Bearer", TenantKey),
            Basic("admin", "not-the-admin-key"),
            Basic("admin", TenantKey),
            new("Basic", "not base64!"),
        })
        {
            using var client = _host.CreateClient();
            client.DefaultRequestHeaders.Authorization = authorization;
            using var response = await client.GetAsync(path);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Basic", response.Headers.WwwAuthenticate.Single().Scheme); // the browser asks for the key
            Assert.True((await response.Content.ReadFromJsonAsync<JsonObject>())!.ContainsKey("error"));
        }
    }

    [Fact]
    public async Task The_dashboard_opens_with_the_admin_key_as_basic_password_or_bearer()
    {
        using var browser = _host.CreateClient();
        browser.DefaultRequestHeaders.Authorization = Basic("any-user", RelayHost.AdminKey);
        using var page = await browser.GetAsync("/admin/orleans/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("index.min.js", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var script = await browser.GetAsync("/admin/orleans/index.min.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);

        using var admin = _host.ClientFor(RelayHost.AdminKey);
        using var counters = await admin.GetAsync("/admin/orleans/DashboardCounters");
        Assert.Equal(HttpStatusCode.OK, counters.StatusCode);
        Assert.NotNull(await counters.Content.ReadFromJsonAsync<JsonObject>());
    }

    [Fact]
    public async Task With_the_dashboard_off_its_path_is_still_gated_and_then_not_found()
    {
        using var host = new RelayHost(RelayHost.SimulatorSettings());
        using var anonymous = host.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/admin/orleans/")).StatusCode);
        using var admin = host.ClientFor(RelayHost.AdminKey);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/admin/orleans/")).StatusCode);
    }

    [Theory]
    [InlineData(null, HttpStatusCode.Unauthorized)]
    [InlineData("not-the-admin-key", HttpStatusCode.Unauthorized)]
    [InlineData(TenantKey, HttpStatusCode.Forbidden)]
    public async Task Admin_cluster_needs_the_admin_key(string? key, HttpStatusCode expected)
    {
        using var client = key is null ? _host.CreateClient() : _host.ClientFor(key);
        using var response = await client.GetAsync("/admin/cluster");
        Assert.Equal(expected, response.StatusCode);
    }

    private static AuthenticationHeaderValue Basic(string user, string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
}
