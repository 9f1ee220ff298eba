using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>The admin write API on the embedded store: tenants, limits, models, keys, pause.</summary>
public sealed class AdminTenantsTests : IDisposable
{
    private readonly RelayHost _host = new(RelayHost.SimulatorSettings(("Relay:Tenants:seeded:Keys:0", "sk-seeded-key")));
    private readonly HttpClient _admin;

    public AdminTenantsTests() => _admin = _host.ClientFor(RelayHost.AdminKey);

    public void Dispose()
    {
        _admin.Dispose();
        _host.Dispose();
    }

    private async Task<(JsonObject Tenant, string Key)> CreateAsync(object body)
    {
        using var response = await _admin.PostAsync("/admin/tenants", RelayHost.Json(body));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var tenant = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        return (tenant, (string)tenant["key"]!["key"]!);
    }

    private async Task<HttpStatusCode> ChatAsync(string key)
    {
        using var client = _host.ClientFor(key);
        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("hello", extra: new { max_tokens = 2 })));
        return response.StatusCode;
    }

    [Fact]
    public async Task A_created_tenant_gets_its_limits_and_a_key_shown_once()
    {
        var (tenant, key) = await CreateAsync(new { id = "acme", requests_per_minute = 2, monthly_budget_usd = 5, models = new[] { "mock-*" } });

        Assert.Equal("acme", (string?)tenant["id"]);
        Assert.StartsWith("sk-relay-", key, StringComparison.Ordinal);
        Assert.Equal(2, (int)tenant["quota"]!["limits"]!["requests_per_minute"]!);
        Assert.Equal(5m, (decimal)tenant["quota"]!["limits"]!["monthly_budget_usd"]!);

        Assert.Equal(HttpStatusCode.OK, await ChatAsync(key));
        Assert.Equal(HttpStatusCode.OK, await ChatAsync(key));
        Assert.Equal(HttpStatusCode.TooManyRequests, await ChatAsync(key));

        var fetched = await _admin.GetStringAsync("/admin/tenants/acme");
        Assert.DoesNotContain(key, fetched, StringComparison.Ordinal); // only the prefix is ever shown again
        Assert.Contains((string)tenant["key"]!["prefix"]!, fetched, StringComparison.Ordinal);
        var list = (await _admin.GetFromJsonAsync<JsonObject>("/admin/tenants"))!;
        Assert.Equal(["acme", "seeded"], list["data"]!.AsArray().Select(t => (string)t!["id"]!).Order());
    }

    [Fact]
    public async Task Limits_and_models_change_live()
    {
        var (_, key) = await CreateAsync(new { id = "live" });
        using var patched = await _admin.PatchAsync("/admin/tenants/live", RelayHost.Json(new { requests_per_minute = 1, models = new[] { "mock-embed" } }));
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);

        Assert.Equal(HttpStatusCode.NotFound, await ChatAsync(key)); // mock-fast is no longer among its models
        using (var patchedBack = await _admin.PatchAsync("/admin/tenants/live", RelayHost.Json(new { models = new[] { "*" } })))
        {
            Assert.Equal(1, (int)(await patchedBack.Content.ReadFromJsonAsync<JsonObject>())!["quota"]!["limits"]!["requests_per_minute"]!); // absent = unchanged
        }

        Assert.Equal(HttpStatusCode.OK, await ChatAsync(key));
        Assert.Equal(HttpStatusCode.TooManyRequests, await ChatAsync(key));
        (await _admin.PatchAsync("/admin/tenants/live", RelayHost.Json("""{"requests_per_minute":null}"""))).EnsureSuccessStatusCode();
        Assert.Equal(HttpStatusCode.OK, await ChatAsync(key)); // null = unlimited
    }

    [Fact]
    public async Task Keys_are_added_rotated_and_revoked_at_once()
    {
        var (tenant, first) = await CreateAsync(new { id = "keys" });
        var firstId = (string)tenant["key"]!["id"]!;
        Assert.Equal(HttpStatusCode.OK, await ChatAsync(first)); // now cached

        using var rotated = await _admin.PostAsync($"/admin/tenants/keys/keys/{firstId}/rotate", null);
        Assert.Equal(HttpStatusCode.Created, rotated.StatusCode);
        var second = (string)(await rotated.Content.ReadFromJsonAsync<JsonObject>())!["key"]!;
        Assert.Equal(HttpStatusCode.Unauthorized, await ChatAsync(first));
        Assert.Equal(HttpStatusCode.OK, await ChatAsync(second));

        using var added = await _admin.PostAsync("/admin/tenants/keys/keys", null);
        var third = (await added.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(HttpStatusCode.OK, await ChatAsync((string)third["key"]!));
        (await _admin.DeleteAsync($"/admin/tenants/keys/keys/{(string)third["id"]!}")).EnsureSuccessStatusCode();
        Assert.Equal(HttpStatusCode.Unauthorized, await ChatAsync((string)third["key"]!));
        Assert.Equal(HttpStatusCode.NotFound, (await _admin.DeleteAsync($"/admin/tenants/keys/keys/{(string)third["id"]!}")).StatusCode);
    }

    [Fact]
    public async Task Pausing_refuses_new_requests_until_resumed_and_deleting_revokes_everything()
    {
        var (_, key) = await CreateAsync(new { id = "pausable" });
        (await _admin.PostAsync("/admin/tenants/pausable/pause", null)).EnsureSuccessStatusCode();
        using (var client = _host.ClientFor(key))
        using (var refused = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("x"))))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Equal("tenant_paused", (string?)(await refused.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["code"]);
        }

        (await _admin.PostAsync("/admin/tenants/pausable/resume", null)).EnsureSuccessStatusCode();
        Assert.Equal(HttpStatusCode.OK, await ChatAsync(key));

        (await _admin.DeleteAsync("/admin/tenants/pausable")).EnsureSuccessStatusCode();
        Assert.Equal(HttpStatusCode.Unauthorized, await ChatAsync(key));
        Assert.Equal(HttpStatusCode.NotFound, (await _admin.GetAsync("/admin/tenants/pausable")).StatusCode);
    }

    [Theory]
    [InlineData("""{"id":"has space"}""", "id")]
    [InlineData("""{"id":"{tag}"}""", "id")]
    [InlineData("""{"id":"ok","requests_per_minute":-1}""", "requests_per_minute")]
    [InlineData("""{"id":"ok","tokens_per_minute":"many"}""", "tokens_per_minute")]
    [InlineData("""{"id":"ok","monthly_budget_usd":-5}""", "monthly_budget_usd")]
    [InlineData("""{"id":"ok","models":[]}""", "models")]
    public async Task Bad_bodies_get_400_naming_the_field(string body, string param)
    {
        using var response = await _admin.PostAsync("/admin/tenants", RelayHost.Json(body));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(param, (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["param"]);
        Assert.Equal(HttpStatusCode.NotFound, (await _admin.GetAsync("/admin/tenants/ok")).StatusCode);
    }

    [Fact]
    public async Task Duplicates_unknown_tenants_and_non_admins_are_refused()
    {
        using var duplicate = await _admin.PostAsync("/admin/tenants", RelayHost.Json(new { id = "seeded" }));
        Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _admin.PatchAsync("/admin/tenants/ghost", RelayHost.Json("{}"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _admin.PostAsync("/admin/tenants/ghost/keys", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _admin.PostAsync("/admin/tenants/ghost/pause", null)).StatusCode);

        using var tenantClient = _host.ClientFor("sk-seeded-key");
        Assert.Equal(HttpStatusCode.Forbidden, (await tenantClient.PostAsync("/admin/tenants", RelayHost.Json(new { id = "sneaky" }))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _admin.GetAsync("/admin/tenants/sneaky")).StatusCode);
    }
}
