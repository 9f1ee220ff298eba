using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Files;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Live;

/// <summary>The admin hub under a burst of requests (coalesced pushes), and its batches feed.</summary>
public sealed class AdminHubPushTests
{
    private const string Key = "sk-live-push-tenant-5c2e8a1d";

    [Fact]
    public async Task A_burst_of_requests_is_coalesced_to_at_most_four_tenants_messages_a_second()
    {
        using var host = new RelayHost(RelayHost.SimulatorSettings(("Relay:Tenants:burst:Keys:0", Key)));
        await using var hub = await AdminHubClient.ConnectAsync(host.Address);
        await hub.WatchTenantsAsync();

        const int Requests = 120;
        using var client = host.ClientFor(Key);
        await Parallel.ForAsync(0, Requests, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, cancellationToken) =>
        {
            using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat($"burst {i}", extra: new { max_tokens = 2 })), cancellationToken);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        });
        var quota = await host.WaitForIdleAsync("burst");
        Assert.NotNull(await AdminHubClient.WaitForAsync(hub.Tenants, "burst", r => (decimal)r["spent_usd"]! == (decimal)quota["spent_usd"]! && (int)r["in_flight"]! == 0));

        var sent = hub.Messages.Where(m => m.Name == "tenants").Select(m => m.At).ToArray();
        // Every request changed the row at least twice (admit, settle): 240 changes or more, in far fewer messages.
        Assert.InRange(sent.Length, 1, Requests / 2);
        foreach (var at in sent)
        {
            // No one-second window holds more than four (the server spaces them 250 ms; one spare for delivery jitter).
            Assert.True(sent.Count(s => s >= at && s < at + TimeSpan.FromSeconds(1)) <= 5,
                $"{sent.Length} messages at {string.Join(", ", sent.Select(s => (int)s.TotalMilliseconds))} ms");
        }
    }

    [Fact]
    public async Task Tenants_deleted_at_once_are_pushed_in_a_few_messages_to_both_feeds()
    {
        using var host = new RelayHost(RelayHost.SimulatorSettings(("Relay:Tenants:keep:Keys:0", Key)));
        using var admin = host.ClientFor(RelayHost.AdminKey);
        const int Deleted = 12; // more than the 5 a second the check allows, so one message per tenant would fail it
        var ids = Enumerable.Range(0, Deleted).Select(i => $"gone{i}").ToArray();
        foreach (var id in ids)
        {
            using var created = await admin.PostAsync("/admin/tenants", RelayHost.Json(new { id }));
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        await using var hub = await AdminHubClient.ConnectAsync(host.Address);
        Assert.Equal(Deleted + 1, (await hub.WatchTenantsAsync()).Count);
        // A console on the batches view alone must hear of it too: the gone tenants' batches leave its table.
        await using var batchesOnly = await AdminHubClient.ConnectAsync(host.Address);
        await batchesOnly.WatchBatchesAsync();

        await Task.WhenAll(ids.Select(async id => (await admin.DeleteAsync($"/admin/tenants/{id}")).EnsureSuccessStatusCode()));
        await Eventually.WaitAsync(() => Task.FromResult(hub.Removed.ToArray()), removed => ids.All(removed.Contains));
        await Eventually.WaitAsync(() => Task.FromResult(batchesOnly.Removed.ToArray()), removed => ids.All(removed.Contains));
        Assert.Equal(ids.Order(), batchesOnly.Removed.Order());
        Assert.Empty(batchesOnly.Tenants); // no rows: it does not watch tenants

        Assert.Equal(["keep"], hub.Tenants.Keys);
        var removals = hub.Messages.Where(m => m.Name == "tenantsRemoved").ToArray();
        Assert.Equal(Deleted, removals.Sum(m => m.Rows)); // each id once
        foreach (var (_, at, _) in removals)
        {
            // One message per send, however many tenants went (it was one per tenant: 30 in half a second).
            Assert.True(removals.Count(m => m.At >= at && m.At < at + TimeSpan.FromSeconds(1)) <= 5,
                $"{removals.Length} removal messages at {string.Join(", ", removals.Select(m => (int)m.At.TotalMilliseconds))} ms");
        }
    }

    [Fact]
    public async Task The_batches_feed_shows_a_batch_complete_and_another_cancelled()
    {
        using var files = new TempDirectory();
        using var work = new TempDirectory();
        using var host = new RelayHost(RelayHost.SimulatorSettings(
            ("Relay:Tenants:batcher:Keys:0", Key), ("Relay:Files:Path", files.Path), ("Relay:Batches:WorkPath", work.Path)));
        using var client = host.ClientFor(Key);
        using var admin = host.ClientFor(RelayHost.AdminKey);
        await using var hub = await AdminHubClient.ConnectAsync(host.Address);
        Assert.Empty(await hub.WatchBatchesAsync());

        var quick = await CreateBatchAsync(client, 2, "quick [[sim tokens=2]]");
        var done = await AdminHubClient.WaitForAsync(hub.Batches, quick, b => (string?)b["status"] == "completed", TimeSpan.FromSeconds(30));
        Assert.NotNull(done);
        Assert.Equal("batcher", (string?)done["tenant"]);
        Assert.Equal("batch", (string?)done["object"]);
        Assert.Equal(2, (int)done["request_counts"]!["completed"]!);
        Assert.NotNull((string?)done["output_file_id"]);
        Assert.Contains(hub.Messages, m => m.Name == "batches");

        var slow = await CreateBatchAsync(client, 200, "slow [[sim ttft=2000 tokens=2]]");
        Assert.NotNull(await AdminHubClient.WaitForAsync(hub.Batches, slow, b => (string?)b["status"] == "in_progress", TimeSpan.FromSeconds(30)));
        (await admin.PostAsync($"/admin/tenants/batcher/batches/{slow}/cancel", null)).EnsureSuccessStatusCode();
        var cancelled = await AdminHubClient.WaitForAsync(hub.Batches, slow, b => (string?)b["status"] == "cancelled", TimeSpan.FromSeconds(30));
        Assert.NotNull(cancelled);
        Assert.True((int)cancelled["request_counts"]!["completed"]! < 200, cancelled.ToJsonString());

        // A new watcher's snapshot holds both, as the tenant's own listing shows them.
        await using var late = await AdminHubClient.ConnectAsync(host.Address);
        var snapshot = await late.WatchBatchesAsync();
        Assert.Equal([slow, quick], snapshot.Select(b => (string)b!["id"]!));
        var listed = (await admin.GetFromJsonAsync<JsonObject>("/admin/tenants/batcher/batches"))!["data"]!.AsArray();
        Assert.Equal(listed.Select(b => (string?)b!["status"]), snapshot.Select(b => (string?)b!["status"]));
    }

    private static async Task<string> CreateBatchAsync(HttpClient client, int items, string prompt)
    {
        var lines = new StringBuilder();
        for (var i = 0; i < items; i++)
        {
            lines.Append(new JsonObject
            {
                ["custom_id"] = $"item-{i}", ["method"] = "POST", ["url"] = "/v1/chat/completions",
                ["body"] = new JsonObject
                {
                    ["model"] = "mock-fast", ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = $"{prompt} {i}" }),
                },
            }.ToJsonString()).Append('\n');
        }

        using var upload = await client.PostAsync("/v1/files", FilesHost.Upload(Encoding.UTF8.GetBytes(lines.ToString()), "input.jsonl", "batch"));
        Assert.Equal(HttpStatusCode.OK, upload.StatusCode);
        var fileId = (string)(await upload.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        using var create = await client.PostAsync("/v1/batches",
            RelayHost.Json(new { input_file_id = fileId, endpoint = "/v1/chat/completions", completion_window = "24h" }));
        Assert.Equal(HttpStatusCode.OK, create.StatusCode);
        return (string)(await create.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
    }
}
