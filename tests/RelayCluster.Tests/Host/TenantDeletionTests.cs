using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using RelayCluster.Core.Auth;
using RelayCluster.Tests.Files;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>
/// Deletes that stay deleted and ids that come back clean, on the embedded store across restarts (the usage
/// directory, with the tenant journal, and the file store survive; everything in memory does not).
/// </summary>
public sealed class TenantDeletionTests : IDisposable
{
    private const string Key1 = "sk-deleted-tenant-one";
    private const string Key2a = "sk-deleted-tenant-two-a";
    private const string Key2b = "sk-deleted-tenant-two-b";

    private readonly TempDirectory _usage = new();
    private readonly TempDirectory _files = new();

    public void Dispose()
    {
        _usage.Dispose();
        _files.Dispose();
    }

    private RelayHost Start() => new(RelayHost.SimulatorSettings(
        ("Relay:Tenants:t1:Keys:0", Key1),
        ("Relay:Tenants:t1:MonthlyBudgetUsd", "10"),
        ("Relay:Tenants:t2:Keys:0", Key2a),
        ("Relay:Tenants:t2:Keys:1", Key2b),
        ("Relay:Files:Path", _files.Path)), _usage.Path);

    [Fact]
    public async Task A_deleted_configured_tenant_and_a_revoked_configured_key_stay_deleted_after_restarts()
    {
        using (var first = Start())
        using (var admin = first.ClientFor(RelayHost.AdminKey))
        {
            Assert.Equal(HttpStatusCode.OK, await ChatAsync(first, Key1));
            (await admin.DeleteAsync("/admin/tenants/t1")).EnsureSuccessStatusCode();
            (await admin.DeleteAsync($"/admin/tenants/t2/keys/{KeyId(Key2a)}")).EnsureSuccessStatusCode();
        }

        for (var restart = 0; restart < 2; restart++)
        {
            using var host = Start();
            using var admin = host.ClientFor(RelayHost.AdminKey);
            Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/admin/tenants/t1")).StatusCode);
            Assert.DoesNotContain("t1", (await admin.GetFromJsonAsync<JsonObject>("/admin/tenants"))!["data"]!.AsArray().Select(t => (string)t!["id"]!));
            Assert.Equal(HttpStatusCode.Unauthorized, await ChatAsync(host, Key1));
            Assert.Equal(HttpStatusCode.Unauthorized, await ChatAsync(host, Key2a));
            Assert.Equal(HttpStatusCode.OK, await ChatAsync(host, Key2b));
            Assert.Equal([KeyId(Key2b)], (await admin.GetFromJsonAsync<JsonObject>("/admin/tenants/t2"))!["keys"]!.AsArray().Select(k => (string)k!["id"]!));
        }

        // Only an explicit create brings the id back, with a new key: the deleted tenant's keys stay dead.
        using (var host = Start())
        using (var admin = host.ClientFor(RelayHost.AdminKey))
        {
            var created = await CreateAsync(admin, "t1");
            Assert.Equal(HttpStatusCode.OK, await ChatAsync(host, (string)created["key"]!["key"]!));
            Assert.Equal(HttpStatusCode.Unauthorized, await ChatAsync(host, Key1));
        }

        using (var host = Start())
        {
            Assert.Equal(HttpStatusCode.Unauthorized, await ChatAsync(host, Key1));
        }
    }

    [Fact]
    public async Task A_re_created_tenant_sees_none_of_the_deleted_tenants_data_also_after_a_restart()
    {
        string fileId, batchId, streamId, newKey;
        long ownSpend;
        using (var first = Start())
        using (var admin = first.ClientFor(RelayHost.AdminKey))
        using (var old = first.ClientFor(Key1))
        {
            (fileId, batchId, streamId) = await LeaveDataAsync(first, old);
            Assert.True((long)(await first.QuotaAsync("t1"))["spent_nanos"]! > 0);

            (await admin.DeleteAsync("/admin/tenants/t1")).EnsureSuccessStatusCode();
            newKey = (string)(await CreateAsync(admin, "t1"))["key"]!["key"]!;

            using var fresh = first.ClientFor(newKey);
            // Fresh windows: read before the calls below, which count against the new tenant's RPM (files, batches and
            // stream tokens are admitted like any call) but never its tokens.
            var quota = await first.QuotaAsync("t1");
            Assert.Equal(0, (long)quota["requests_in_window"]!);
            Assert.Equal(0, (long)quota["tokens_in_window"]!);
            await AssertNothingInheritedAsync(first, fresh, fileId, batchId, streamId, expectedSpend: 0);
            Assert.Equal(0, (long)(await first.QuotaAsync("t1"))["tokens_in_window"]!);

            // The new tenant's own spend is its own, and survives the restart below.
            Assert.Equal(HttpStatusCode.OK, await ChatAsync(first, newKey));
            ownSpend = (long)(await first.WaitForIdleAsync("t1"))["spent_nanos"]!;
            Assert.True(ownSpend > 0);
        }

        using var second = Start();
        using var secondAdmin = second.ClientFor(RelayHost.AdminKey);
        using var keyResponse = await secondAdmin.PostAsync("/admin/tenants/t1/keys", null); // the embedded store forgets admin keys at a restart
        Assert.Equal(HttpStatusCode.Created, keyResponse.StatusCode);
        using var again = second.ClientFor((string)(await keyResponse.Content.ReadFromJsonAsync<JsonObject>())!["key"]!);
        await AssertNothingInheritedAsync(second, again, fileId, batchId, streamId, expectedSpend: ownSpend);
        Assert.Equal(HttpStatusCode.Unauthorized, await ChatAsync(second, Key1));
    }

    /// <summary>A file, a finished batch (with its output file), a fan-out stream, and spend.</summary>
    internal static async Task<(string FileId, string BatchId, string StreamId)> LeaveDataAsync(RelayHost host, HttpClient client)
    {
        var line = "{\"custom_id\":\"r0\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\"mock-fast\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}}\n";
        using var upload = await client.PostAsync("/v1/files", FilesHost.Upload(Encoding.UTF8.GetBytes(line), "in.jsonl", "batch"));
        Assert.Equal(HttpStatusCode.OK, upload.StatusCode);
        var fileId = (string)(await upload.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;

        using var create = await client.PostAsync("/v1/batches", RelayHost.Json(new { input_file_id = fileId, endpoint = "/v1/chat/completions", completion_window = "24h" }));
        Assert.Equal(HttpStatusCode.OK, create.StatusCode);
        var batchId = (string)(await create.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        var batch = await Eventually.WaitAsync(
            async () => (await client.GetFromJsonAsync<JsonObject>($"/v1/batches/{batchId}"))!, b => (string?)b["status"] == "completed");
        Assert.Equal("completed", (string?)batch!["status"]);

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = RelayHost.Json(RelayHost.Chat("fan me out")) };
        request.Headers.Add("x-relay-fanout", "true");
        using var chat = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        var streamId = chat.Headers.GetValues("x-relay-stream-id").Single();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/v1/streams/{streamId}/token", null)).StatusCode);
        await host.WaitForIdleAsync("t1");
        return (fileId, batchId, streamId);
    }

    internal static async Task AssertNothingInheritedAsync(RelayHost host, HttpClient client, string fileId, string batchId, string streamId, long expectedSpend)
    {
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/v1/files/{fileId}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/v1/files/{fileId}/content")).StatusCode);
        Assert.Empty((await client.GetFromJsonAsync<JsonObject>("/v1/files"))!["data"]!.AsArray());
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/v1/batches/{batchId}")).StatusCode);
        Assert.Empty((await client.GetFromJsonAsync<JsonObject>("/v1/batches"))!["data"]!.AsArray());
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync($"/v1/streams/{streamId}/token", null)).StatusCode);

        var quota = await host.QuotaAsync("t1");
        Assert.Equal(expectedSpend, (long)quota["spent_nanos"]!);
        Assert.Equal(0, (long)quota["reserved_nanos"]!);
        var usage = await host.UsageAsync("t1");
        Assert.Equal(expectedSpend, (long)usage["cost_nanos"]!);
        Assert.Equal(expectedSpend == 0 ? 0 : 1, (long)usage["requests"]!);

        // The usage report shows only the new tenant's month too, alone and among all tenants.
        using var admin = host.ClientFor(RelayHost.AdminKey);
        var alone = (await admin.GetFromJsonAsync<JsonObject>("/admin/usage/report?tenant=t1"))!;
        var all = (await admin.GetFromJsonAsync<JsonObject>("/admin/usage/report"))!;
        foreach (var report in new[] { alone, all })
        {
            var t1 = report["data"]!.AsArray().SingleOrDefault(t => (string?)t!["tenant"] == "t1");
            Assert.Equal((expectedSpend, expectedSpend == 0 ? 0 : 1),
                ((long?)t1?["totals"]!["cost_nanos"] ?? 0, (long?)t1?["totals"]!["requests"] ?? 0));
        }
    }

    internal static async Task<JsonObject> CreateAsync(HttpClient admin, string id)
    {
        using var response = await admin.PostAsync("/admin/tenants", RelayHost.Json(new { id, monthly_budget_usd = 10 }));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }

    internal static async Task<HttpStatusCode> ChatAsync(RelayHost host, string key)
    {
        using var client = host.ClientFor(key);
        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("hello", extra: new { max_tokens = 2 })));
        return response.StatusCode;
    }

    internal static string KeyId(string key) => ApiKeys.From(key, 0).Entry.Id;
}
