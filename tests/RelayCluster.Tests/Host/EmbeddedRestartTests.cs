using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>
/// The embedded store across restarts over the same data directory: what admins changed (tenants, keys, models, limits,
/// pause) comes back as they left it, with its spend, and the configuration does not overwrite it.
/// </summary>
public sealed class EmbeddedRestartTests : IDisposable
{
    private const string ConfiguredKey = "sk-configured-tenant-key-0001";

    private readonly TempDirectory _data = new();

    public void Dispose() => _data.Dispose();

    private RelayHost Start() => new(RelayHost.SimulatorSettings(
        ("Relay:Tenants:cfg:Keys:0", ConfiguredKey),
        ("Relay:Tenants:cfg:RequestsPerMinute", "5")), _data.Path);

    [Fact]
    public async Task Admin_changes_tenants_keys_limits_pause_and_spend_survive_a_restart()
    {
        string keptKey, revokedKey;
        long spent;
        using (var first = Start())
        using (var admin = first.ClientFor(RelayHost.AdminKey))
        {
            var created = await Json(await admin.PostAsJsonAsync("/admin/tenants", new { id = "made", requests_per_minute = 7, monthly_budget_usd = 3 }), HttpStatusCode.Created);
            revokedKey = (string)created["key"]!["key"]!;
            var added = await Json(await admin.PostAsync("/admin/tenants/made/keys", null), HttpStatusCode.Created);
            keptKey = (string)added["key"]!;
            await Json(await admin.DeleteAsync($"/admin/tenants/made/keys/{(string)created["key"]!["id"]!}"), HttpStatusCode.OK);
            await Json(await admin.PatchAsJsonAsync("/admin/tenants/made", new { models = new[] { "mock-fast" }, tokens_per_minute = 50_000 }), HttpStatusCode.OK);
            await Json(await admin.PatchAsJsonAsync("/admin/tenants/cfg", new { requests_per_minute = 9 }), HttpStatusCode.OK);
            await Json(await admin.PostAsync("/admin/tenants/cfg/pause", null), HttpStatusCode.OK);

            using var made = first.ClientFor(keptKey);
            (await made.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("before the restart")))).EnsureSuccessStatusCode();
            spent = (long)(await first.WaitForIdleAsync("made"))["spent_nanos"]!;
            Assert.True(spent > 0);
        }

        using var second = Start();
        using var admin2 = second.ClientFor(RelayHost.AdminKey);
        var tenant = (await admin2.GetFromJsonAsync<JsonObject>("/admin/tenants/made"))!;
        Assert.Equal(["mock-fast"], tenant["models"]!.AsArray().Select(m => (string)m!));
        Assert.Single(tenant["keys"]!.AsArray());
        var quota = tenant["quota"]!;
        Assert.Equal((7, 50_000, 3m), ((int)quota["limits"]!["requests_per_minute"]!, (int)quota["limits"]!["tokens_per_minute"]!, (decimal)quota["limits"]!["monthly_budget_usd"]!));
        Assert.Equal(spent, (long)quota["spent_nanos"]!);

        using (var kept = second.ClientFor(keptKey))
        {
            Assert.Equal(HttpStatusCode.OK, (await kept.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("after the restart")))).StatusCode);
        }

        using (var revoked = second.ClientFor(revokedKey))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await revoked.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("revoked")))).StatusCode);
        }

        // The configured tenant keeps the admin's limit and pause: configuration seeds a tenant once, never over an admin.
        var configured = (await admin2.GetFromJsonAsync<JsonObject>("/admin/tenants/cfg"))!;
        Assert.Equal(9, (int)configured["quota"]!["limits"]!["requests_per_minute"]!);
        Assert.True((bool)configured["paused"]!);
        using var paused = second.ClientFor(ConfiguredKey);
        Assert.Equal(HttpStatusCode.Forbidden, (await paused.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("paused")))).StatusCode);
    }

    private static async Task<JsonObject> Json(HttpResponseMessage response, HttpStatusCode expected)
    {
        using (response)
        {
            Assert.Equal(expected, response.StatusCode);
            return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        }
    }
}
