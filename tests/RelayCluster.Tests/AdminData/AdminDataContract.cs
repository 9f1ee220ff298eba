using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RelayCluster.Core.Metering;
using RelayCluster.Tests.Files;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.AdminData;

/// <summary>
/// The console's read endpoints on each store, against what was sent and what the store's ledger holds: per-day usage,
/// a tenant's latest requests, every tenant's batches, and the per-route-target stats. Traffic goes over real HTTP
/// through route <c>r</c> (target mock-fast; alternative <c>next</c> with target mock-idle, never called), with some calls
/// made to fail by the simulator's <c>[[sim error=503]]</c> directive.
/// </summary>
public abstract class AdminDataContract(TestStore store) : IAsyncLifetime
{
    protected const string Key1 = "sk-admindata-key-one-4f2a9c";
    protected const string Key2 = "sk-admindata-key-two-8e1b7d";

    private readonly TempDirectory _files = new();
    private readonly TempDirectory _work = new();

    protected RelayHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await store.StartAsync();
        Host = new RelayHost(RelayHost.SimulatorSettings(
        [
            ("Relay:Models:mock-idle:Provider", "sim"), ("Relay:Models:mock-idle:InputPerMTok", "1"), ("Relay:Models:mock-idle:OutputPerMTok", "2"),
            ("Relay:Routes:r:Targets:0:Model", "mock-fast"), ("Relay:Routes:r:Alternatives:next:Targets:0:Model", "mock-idle"),
            ("Relay:Tenants:t1:Keys:0", Key1), ("Relay:Tenants:t2:Keys:0", Key2),
            ("Relay:Files:Path", _files.Path), ("Relay:Batches:WorkPath", _work.Path),
            .. store.Settings(),
        ]));
    }

    public async Task DisposeAsync()
    {
        Host.Dispose();
        await store.StopAsync();
        _files.Dispose();
        _work.Dispose();
    }

    [Fact]
    public async Task Daily_usage_recent_requests_and_route_stats_equal_what_was_sent_and_the_ledger()
    {
        // t1: 5 completed and 2 failed calls through route r; t2: one call.
        var (ok, failed) = (5, 2);
        await SendAsync(Key1, ok, failed);
        await SendAsync(Key2, 1, 0);
        await Host.WaitForIdleAsync("t1");
        await Host.WaitForIdleAsync("t2");
        var ledger = (await Eventually.WaitAsync(() => store.LedgerAsync(Host, "t1"), l => l.Count == ok + failed))!;
        using var admin = Host.ClientFor(RelayHost.AdminKey);

        // Daily: every day of this month up to today; today holds the ledger's sums, the other days zeros.
        var today = DateTime.UtcNow.Date;
        var daily = await GetAsync(admin, "/admin/tenants/t1/usage/daily");
        Assert.Equal(("list", "t1", Money.MonthOf(today)), ((string?)daily["object"], (string?)daily["tenant"], (string?)daily["month"]));
        var days = daily["data"]!.AsArray();
        Assert.Equal(today.Day, days.Count);
        Assert.Equal(today.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), (string?)days[^1]!["date"]);
        var last = days[^1]!;
        Assert.Equal(
            ((long)(ok + failed), (long)failed, ledger.Sum(r => r.PromptTokens), ledger.Sum(r => r.CompletionTokens), ledger.Sum(r => r.CostNanos)),
            ((long)last["requests"]!, (long)last["errors"]!, (long)last["prompt_tokens"]!, (long)last["completion_tokens"]!, (long)last["cost_nanos"]!));
        Assert.Equal(Money.ToUsd(ledger.Sum(r => r.CostNanos)), (decimal)last["cost_usd"]!);
        Assert.All(days.Take(days.Count - 1), d => Assert.Equal(0, (long)d!["requests"]!));
        var usage = await Host.UsageAsync("t1");
        Assert.Equal((long)usage["cost_nanos"]!, days.Sum(d => (long)d!["cost_nanos"]!));

        // A past month: all its days, zeros; a future one: none.
        Assert.Equal(29, (await GetAsync(admin, "/admin/tenants/t1/usage/daily?month=2024-02"))["data"]!.AsArray().Count);
        Assert.Empty((await GetAsync(admin, $"/admin/tenants/t1/usage/daily?month={today.Year + 1}-01"))["data"]!.AsArray());

        // Recent requests: the ledger's latest records of t1, newest first, each the ledger's own record.
        var three = await GetAsync(admin, "/admin/tenants/t1/requests?limit=3");
        Assert.True((bool)three["has_more"]!);
        Assert.Equal(ledger.Select(r => r.RequestId).Reverse().Take(3), three["data"]!.AsArray().Select(r => (string)r!["request_id"]!));
        var all = await GetAsync(admin, "/admin/tenants/t1/requests?limit=200");
        Assert.False((bool)all["has_more"]!);
        var records = all["data"]!.AsArray();
        Assert.Equal(ok + failed, records.Count);
        Assert.All(records, r => Assert.Equal("t1", (string?)r!["tenant"]));
        var newest = JsonSerializer.Deserialize(records[0]!.ToJsonString(), UsageJsonContext.Default.UsageRecord)!;
        Assert.Equal(ledger[^1], newest);
        Assert.Single((await GetAsync(admin, "/admin/tenants/t2/requests"))["data"]!.AsArray());

        // Route stats: t1's 7 and t2's 1 tries of mock-fast, 2 of them failed; the idle alternative's target shows zeros.
        var stats = await GetAsync(admin, "/admin/routes/stats");
        Assert.Equal(60, (int)stats["window_seconds"]!);
        var rows = stats["data"]!.AsArray();
        var fast = rows.Single(r => (string?)r!["model"] == "r" && (string?)r["alternative"] == "default" && (string?)r["target"] == "mock-fast")!;
        Assert.Equal(("sim", 8L, 2L, 0.25), ((string?)fast["provider"], (long)fast["requests"]!, (long)fast["errors"]!, (double)fast["error_rate"]!));
        Assert.True((double)fast["p50_ms"]! > 0 && (double)fast["p99_ms"]! >= (double)fast["p50_ms"]!);
        Assert.Contains((string?)fast["breaker"], new[] { "closed", "open", "half_open" });
        var idle = rows.Single(r => (string?)r!["alternative"] == "next")!;
        Assert.Equal(("mock-idle", 0L, 0L, 0.0), ((string?)idle["target"], (long)idle["requests"]!, (long)idle["errors"]!, (double)idle["error_rate"]!));
        Assert.Null(idle["p50_ms"]);
        Assert.Null(idle["p99_ms"]);
    }

    [Theory]
    [InlineData("/admin/tenants/t1/usage/daily?month=2026-13", 400, "month")]
    [InlineData("/admin/tenants/t1/usage/daily?month=26-11", 400, "month")]
    [InlineData("/admin/tenants/nobody/usage/daily", 404, null)]
    [InlineData("/admin/tenants/t1/requests?limit=0", 400, "limit")]
    [InlineData("/admin/tenants/t1/requests?limit=201", 400, "limit")]
    [InlineData("/admin/tenants/t1/requests?limit=ten", 400, "limit")]
    [InlineData("/admin/tenants/nobody/requests", 404, null)]
    [InlineData("/admin/batches?limit=0", 400, "limit")]
    [InlineData("/admin/batches?limit=101", 400, "limit")]
    [InlineData("/admin/batches?after=batch_nope", 400, "after")]
    [InlineData("/admin/batches?status=done", 400, "status")]
    public async Task Bad_parameters_get_the_envelope_naming_them(string path, int status, string? param)
    {
        using var admin = Host.ClientFor(RelayHost.AdminKey);
        using var response = await admin.GetAsync(path);
        Assert.Equal(status, (int)response.StatusCode);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
        Assert.Equal(param, (string?)error["param"]);

        using var tenant = Host.ClientFor(Key1);
        using var refused = await tenant.GetAsync(path);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
    }

    [Fact]
    public async Task Every_tenants_batches_are_listed_newest_first_in_pages_and_by_status()
    {
        var created = new List<(string Tenant, string Id)>();
        foreach (var (tenant, key) in new[] { ("t1", Key1), ("t2", Key2), ("t1", Key1) })
        {
            created.Add((tenant, await BatchAsync(key)));
        }

        using var admin = Host.ClientFor(RelayHost.AdminKey);
        var list = await GetAsync(admin, "/admin/batches");
        var data = list["data"]!.AsArray();
        Assert.Equal(created.Select(c => $"{c.Tenant}/{c.Id}").Order(), data.Select(b => $"{b!["tenant"]}/{b["id"]}").Order());
        Assert.Equal([.. data.Select(b => (long)b!["created_at"]!).OrderDescending()], data.Select(b => (long)b!["created_at"]!));
        Assert.Equal(created[^1].Id, (string?)data[0]!["id"]); // t1's second batch came last (its creation waited for the first to end)
        Assert.Equal(((string?)data[0]!["id"], (string?)data[^1]!["id"], false), ((string?)list["first_id"], (string?)list["last_id"], (bool)list["has_more"]!));
        Assert.All(data, b => Assert.Equal("batch", (string?)b!["object"]));

        // Two pages of two and one: the same batches, in the same order.
        var first = await GetAsync(admin, "/admin/batches?limit=2");
        Assert.True((bool)first["has_more"]!);
        var second = await GetAsync(admin, $"/admin/batches?limit=2&after={first["last_id"]}");
        Assert.False((bool)second["has_more"]!);
        Assert.Equal(data.Select(b => (string?)b!["id"]), first["data"]!.AsArray().Concat(second["data"]!.AsArray()).Select(b => (string?)b!["id"]));

        // By status: all three completed, none in progress.
        Assert.Equal(3, (await GetAsync(admin, "/admin/batches?status=completed"))["data"]!.AsArray().Count);
        Assert.Empty((await GetAsync(admin, "/admin/batches?status=in_progress"))["data"]!.AsArray());
    }

    [Fact]
    public async Task Paging_every_tenants_batches_while_batches_are_created_skips_and_repeats_none()
    {
        // Six batches from two tenants made at once (same seconds: the tenant and creation-order ties decide their order).
        var before = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => CreateBatchAsync(i % 2 == 0 ? Key1 : Key2)));
        using var admin = Host.ClientFor(RelayHost.AdminKey);
        var snapshot = (await GetAsync(admin, "/admin/batches?limit=100"))["data"]!.AsArray().Select(b => (string)b!["id"]!).ToList();
        Assert.Equal(before.Order(), snapshot.Order());

        // Pages of two while more batches are created between the pages.
        var paged = new List<string>();
        string? after = null;
        var creating = new List<Task<string>>();
        while (true)
        {
            creating.Add(CreateBatchAsync(creating.Count % 2 == 0 ? Key2 : Key1));
            var page = await GetAsync(admin, "/admin/batches?limit=2" + (after is null ? "" : "&after=" + after));
            var ids = page["data"]!.AsArray().Select(b => (string)b!["id"]!).ToList();
            Assert.Equal((ids.FirstOrDefault(), ids.LastOrDefault()), ((string?)page["first_id"], (string?)page["last_id"]));
            paged.AddRange(ids);
            if (!(bool)page["has_more"]!)
            {
                break;
            }

            after = (string?)page["last_id"];
        }

        var made = await Task.WhenAll(creating);
        Assert.Equal(paged.Distinct().Count(), paged.Count); // none twice
        Assert.Equal(snapshot, paged.Where(snapshot.Contains)); // every earlier one, in the same order
        Assert.All(paged.Where(id => !snapshot.Contains(id)), id => Assert.Contains(id, made)); // anything else was made meanwhile
    }

    private async Task<string> CreateBatchAsync(string key)
    {
        using var client = Host.ClientFor(key);
        var line = new JsonObject
        {
            ["custom_id"] = "a", ["method"] = "POST", ["url"] = "/v1/chat/completions",
            ["body"] = new JsonObject { ["model"] = "mock-fast", ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "hi" }) },
        }.ToJsonString() + "\n";
        using var upload = await client.PostAsync("/v1/files", FilesHost.Upload(Encoding.UTF8.GetBytes(line), "in.jsonl", "batch"));
        Assert.Equal(HttpStatusCode.OK, upload.StatusCode);
        var fileId = (string)JsonNode.Parse(await upload.Content.ReadAsStringAsync())!["id"]!;
        using var created = await client.PostAsync("/v1/batches", RelayHost.Json(new { input_file_id = fileId, endpoint = "/v1/chat/completions", completion_window = "24h" }));
        var body = await created.Content.ReadAsStringAsync();
        Assert.True(created.StatusCode == HttpStatusCode.OK, body);
        return (string)JsonNode.Parse(body)!["id"]!;
    }

    private async Task SendAsync(string key, int ok, int failed)
    {
        using var client = Host.ClientFor(key);
        for (var i = 0; i < ok + failed; i++)
        {
            var content = i < failed ? $"fail {i} [[sim error=503]]" : $"hello {i}";
            using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(new { model = "r", messages = new[] { new { role = "user", content } } }));
            Assert.Equal(i < failed ? HttpStatusCode.ServiceUnavailable : HttpStatusCode.OK, response.StatusCode);
        }
    }

    /// <summary>Creates a one-line batch and waits for it to complete, then for the next second (batch times are in seconds).</summary>
    private async Task<string> BatchAsync(string key)
    {
        var id = await CreateBatchAsync(key);
        using var client = Host.ClientFor(key);
        var batch = await Eventually.WaitAsync(
            async () => JsonNode.Parse(await client.GetStringAsync($"/v1/batches/{id}"))!,
            b => (string?)b["status"] is "completed" or "failed" or "expired" or "cancelled", TimeSpan.FromSeconds(30));
        Assert.Equal("completed", (string?)batch!["status"]);
        // created_at is in seconds: the next batch starts in a later second, so the order under test is unambiguous.
        await Eventually.WaitAsync(() => Task.FromResult(DateTimeOffset.UtcNow.ToUnixTimeSeconds()), s => s > (long)batch["created_at"]!, TimeSpan.FromSeconds(3));
        return id;
    }

    private static async Task<JsonObject> GetAsync(HttpClient admin, string path)
    {
        using var response = await admin.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {body}");
        return JsonNode.Parse(body)!.AsObject();
    }
}
