using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Cli;

[CollectionDefinition(Name)]
public sealed class CliCollection : ICollectionFixture<CliRelay>
{
    public const string Name = "relayctl";
}

/// <summary>relayctl's tenant, key and quota commands and its error lines, run in-process against a real silo.</summary>
[Collection(CliCollection.Name)]
public sealed class RelayCtlTenantsTests(CliRelay relay)
{
    private static string NewId(string prefix) => prefix + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task Tenants_create_show_patch_pause_resume_list_agree_with_the_admin_api()
    {
        var id = NewId("ct");
        var created = await relay.RunAsync("tenants", "create", id, "--rpm", "50", "--budget", "12.5", "--models", "mock-fast,mock-embed");
        Assert.Equal(0, created.Exit);
        var fields = created.Fields();
        Assert.Equal(id, fields["id"]);
        Assert.Equal("50", fields["requests_per_minute"]);
        Assert.Equal("12.5", fields["monthly_budget_usd"]);
        Assert.Equal("mock-fast,mock-embed", fields["models"]);
        Assert.StartsWith("sk-", fields["key"], StringComparison.Ordinal);
        Assert.Contains("only time the key is shown", created.Err, StringComparison.Ordinal);
        Assert.DoesNotContain(RelayHost.AdminKey, created.Out + created.Err, StringComparison.Ordinal);
        using (var tenant = relay.Host.ClientFor(fields["key"]))
        {
            Assert.Equal(HttpStatusCode.OK, (await tenant.GetAsync("/v1/models")).StatusCode);
        }

        var show = await relay.RunAsync("tenants", "show", id);
        Assert.Equal(0, show.Exit);
        var view = (await relay.Admin.GetFromJsonAsync<JsonObject>($"/admin/tenants/{id}"))!;
        Assert.Equal((string)view["quota"]!["limits"]!["requests_per_minute"]!.ToJsonString(), show.Fields()["requests_per_minute"]);
        Assert.Equal("false", show.Fields()["paused"]);
        Assert.Equal((string)view["keys"]![0]!["id"]!, show.Rows("key_id").Single()["key_id"]);
        Assert.DoesNotContain(fields["key"], show.Out, StringComparison.Ordinal); // keys are shown once, at creation

        var patched = await relay.RunAsync("tenants", "patch", id, "--rpm", "none", "--tpm", "1000");
        Assert.Equal(0, patched.Exit);
        Assert.Equal(("unlimited", "1000"), (patched.Fields()["requests_per_minute"], patched.Fields()["tokens_per_minute"]));
        var limits = (await relay.Host.QuotaAsync(id))["limits"]!;
        Assert.Null(limits["requests_per_minute"]);
        Assert.Equal(1000, (int)limits["tokens_per_minute"]!);

        var paused = await relay.RunAsync("tenants", "pause", id);
        Assert.Equal((0, "true"), (paused.Exit, paused.Fields()["paused"]));
        Assert.True((bool)(await relay.Admin.GetFromJsonAsync<JsonObject>($"/admin/tenants/{id}"))!["paused"]!);
        var resumed = await relay.RunAsync("tenants", "resume", id);
        Assert.Equal((0, "false"), (resumed.Exit, resumed.Fields()["paused"]));
        Assert.False((bool)(await relay.Admin.GetFromJsonAsync<JsonObject>($"/admin/tenants/{id}"))!["paused"]!);

        var list = await relay.RunAsync("tenants", "list");
        Assert.Equal(0, list.Exit);
        var row = list.Rows().Single(r => r["id"] == id);
        Assert.Equal(("1000", "12.5", "false"), (row["tokens_per_minute"], row["monthly_budget_usd"], row["paused"]));

        var json = await relay.RunAsync("tenants", "show", id, "--json");
        Assert.Equal(id, (string)JsonNode.Parse(json.Out)!["id"]!);

        // Nothing to change is a usage error, before any call.
        Assert.Equal(2, (await relay.RunAsync("tenants", "patch", id)).Exit);
        Assert.Equal(2, (await relay.RunAsync("tenants", "patch", id, "--rpm", "lots")).Exit);
    }

    [Fact]
    public async Task Keys_add_rotate_revoke_make_keys_work_and_stop_working()
    {
        var id = NewId("ck");
        var first = await relay.CreateTenantAsync(id);

        var added = await relay.RunAsync("keys", "add", id);
        Assert.Equal(0, added.Exit);
        var (keyId, key) = (added.Fields()["key_id"], added.Fields()["key"]);
        Assert.Equal(HttpStatusCode.OK, await ModelsAsync(key));
        Assert.Equal(HttpStatusCode.OK, await ModelsAsync(first));

        var rotated = await relay.RunAsync("keys", "rotate", id, keyId);
        Assert.Equal(0, rotated.Exit);
        var (newId, newKey) = (rotated.Fields()["key_id"], rotated.Fields()["key"]);
        Assert.NotEqual(keyId, newId);
        Assert.Equal(HttpStatusCode.Unauthorized, await ModelsAsync(key));
        Assert.Equal(HttpStatusCode.OK, await ModelsAsync(newKey));

        var revoked = await relay.RunAsync("keys", "revoke", id, newId);
        Assert.Equal((0, "true"), (revoked.Exit, revoked.Fields()["deleted"]));
        Assert.Equal(HttpStatusCode.Unauthorized, await ModelsAsync(newKey));
        Assert.Equal(HttpStatusCode.OK, await ModelsAsync(first));

        var again = await relay.RunAsync("keys", "revoke", id, newId);
        Assert.Equal(1, again.Exit);
        Assert.StartsWith("error: 404 not_found:", again.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Quota_watch_once_prints_the_quota_endpoint_values()
    {
        var id = NewId("cq");
        var key = await relay.CreateTenantAsync(id);
        await relay.RunAsync("tenants", "patch", id, "--rpm", "100", "--budget", "5");
        using (var tenant = relay.Host.ClientFor(key))
        {
            for (var i = 0; i < 3; i++)
            {
                (await tenant.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat($"hello {i}")))).EnsureSuccessStatusCode();
            }
        }

        await Eventually.WaitAsync(() => relay.Host.UsageAsync(id), u => (long)u["requests"]! == 3);
        var quota = await relay.Host.WaitForIdleAsync(id);
        var run = await relay.RunAsync("quota", "watch", id, "--once");
        Assert.Equal(0, run.Exit);
        var fields = run.Fields();
        Assert.Equal("3", fields["requests_in_window"]);
        Assert.Equal("100", fields["requests_per_minute"]);
        foreach (var name in new[] { "tokens_in_window", "remaining_requests", "in_flight", "spent_usd", "spent_nanos", "reserved_usd", "month" })
        {
            var expected = quota[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : quota[name]!.ToJsonString();
            Assert.Equal(expected, fields[name]);
        }

        Assert.True(decimal.Parse(fields["spent_usd"], System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Equal("5", fields["monthly_budget_usd"]);
    }

    [Fact]
    public async Task Errors_are_one_line_with_the_status_and_the_exit_code_says_which_kind()
    {
        var unknown = await relay.RunAsync("tenants", "show", "no-such-tenant");
        Assert.Equal(1, unknown.Exit);
        Assert.Equal("error: 404 not_found: No such tenant 'no-such-tenant'.", unknown.Err.TrimEnd());
        Assert.Empty(unknown.Out);

        var badFlag = await relay.RunAsync("tenants", "list", "--bogus");
        Assert.Equal(2, badFlag.Exit);
        Assert.Contains("--bogus", badFlag.Err, StringComparison.Ordinal);
        var missing = await relay.RunAsync("keys", "rotate", "only-a-tenant");
        Assert.Equal(2, missing.Exit);

        // A port nothing listens on: bound then released.
        var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var unreachable = await relay.RunAsync("tenants", "list", "--url", $"http://127.0.0.1:{port}");
        Assert.Equal(3, unreachable.Exit);
        Assert.StartsWith($"error: cannot connect to http://127.0.0.1:{port}/", unreachable.Err, StringComparison.Ordinal);
        Assert.Single(unreachable.Err.Trim().Split('\n'));

        var wrongKey = await relay.RunAsync("tenants", "list", "--admin-key", "wrong-admin-key-123");
        Assert.Equal(1, wrongKey.Exit);
        Assert.Equal("error: 401 invalid_api_key: Incorrect admin key provided.", wrongKey.Err.TrimEnd());
        Assert.DoesNotContain("wrong-admin-key-123", wrongKey.Err, StringComparison.Ordinal);
    }

    private async Task<HttpStatusCode> ModelsAsync(string key)
    {
        using var client = relay.Host.ClientFor(key);
        using var response = await client.GetAsync("/v1/models");
        return response.StatusCode;
    }
}
