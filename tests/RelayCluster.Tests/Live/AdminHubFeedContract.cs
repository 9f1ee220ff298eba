using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Live;

/// <summary>
/// The tenants feed of <c>/hubs/admin</c>, the same on every store: the snapshot is what <c>GET /admin/tenants</c>
/// says; requests, pause, limits and deletion are pushed, and the pushed row ends where <c>GET …/quota</c> does.
/// </summary>
public abstract class AdminHubFeedContract : IAsyncLifetime
{
    protected const string Key = "sk-live-feed-tenant-7f3a9c1e";

    protected RelayHost Host { get; private set; } = null!;

    private HttpClient Admin { get; set; } = null!;

    /// <summary>A silo with tenant <c>alpha</c> (key <see cref="Key"/>, a budget) and <c>beta</c>.</summary>
    protected abstract Task<RelayHost> StartAsync((string, string?)[] tenants);

    protected virtual Task StopAsync() => Task.CompletedTask;

    public async Task InitializeAsync()
    {
        Host = await StartAsync([
            ("Relay:Tenants:alpha:Keys:0", Key), ("Relay:Tenants:alpha:MonthlyBudgetUsd", "10"), ("Relay:Tenants:alpha:RequestsPerMinute", "500"),
            ("Relay:Tenants:beta:Keys:0", "sk-live-feed-beta-2b8d4e6f")]);
        Admin = Host.ClientFor(RelayHost.AdminKey);
    }

    public async Task DisposeAsync()
    {
        Admin.Dispose();
        Host.Dispose();
        await StopAsync();
    }

    private static readonly string[] Compared =
        ["requests_in_window", "tokens_in_window", "in_flight", "reserved_usd", "spent_usd", "month"];

    [Fact]
    public async Task The_snapshot_is_what_the_admin_api_lists()
    {
        await SendChatsAsync(2); // something spent, so the compare is not of zeros only
        await Host.WaitForIdleAsync("alpha");
        await using var hub = await AdminHubClient.ConnectAsync(Host.Address);

        var rows = await hub.WatchTenantsAsync();
        var listed = (await Admin.GetFromJsonAsync<JsonObject>("/admin/tenants"))!["data"]!.AsArray();

        Assert.Equal(listed.Select(t => (string)t!["id"]!).Order(), rows.Select(r => (string)r!["id"]!).Order());
        foreach (var tenant in listed)
        {
            var row = rows.Single(r => (string)r!["id"]! == (string)tenant!["id"]!)!;
            var quota = tenant!["quota"]!;
            foreach (var field in Compared)
            {
                Assert.Equal(quota[field]!.ToJsonString(), row[field]!.ToJsonString());
            }

            Assert.True(JsonNode.DeepEquals(quota["limits"], row["limits"]), $"{quota["limits"]} vs {row["limits"]}");
            Assert.Equal((bool)tenant["paused"]!, (bool)row["paused"]!);
            Assert.Equal(tenant["alerts"]!["paused_by"]?.ToJsonString() ?? "null", row["paused_by"]?.ToJsonString() ?? "null");
            Assert.Equal((double)tenant["alerts"]!["alert_threshold"]!, (double)row["alert_threshold"]!);
            Assert.Equal((double)tenant["alerts"]!["pause_threshold"]!, (double)row["pause_threshold"]!);
            Assert.InRange((long)row["updated_at"]!, DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeMilliseconds(), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        }

        Assert.True((decimal)rows.Single(r => (string)r!["id"]! == "alpha")!["spent_usd"]! > 0);
    }

    [Fact]
    public async Task Requests_move_the_pushed_row_to_what_the_quota_says()
    {
        await using var hub = await AdminHubClient.ConnectAsync(Host.Address);
        var before = (await hub.WatchTenantsAsync()).Single(r => (string)r!["id"]! == "alpha")!;

        await SendChatsAsync(5);
        var quota = await Host.WaitForIdleAsync("alpha");

        var pushed = await AdminHubClient.WaitForAsync(hub.Tenants, "alpha",
            r => (decimal)r["spent_usd"]! == (decimal)quota["spent_usd"]! && (long)r["requests_in_window"]! == (long)quota["requests_in_window"]!
                && (int)r["in_flight"]! == 0);
        Assert.NotNull(pushed);
        Assert.Equal((decimal)quota["spent_usd"]!, (decimal)pushed["spent_usd"]!);
        Assert.Equal((long)quota["requests_in_window"]!, (long)pushed["requests_in_window"]!);
        Assert.Equal((long)before["requests_in_window"]! + 5, (long)pushed["requests_in_window"]!);
        Assert.True((decimal)pushed["spent_usd"]! > (decimal)before["spent_usd"]!);
        Assert.Contains(hub.Messages, m => m.Name == "tenants");
    }

    [Fact]
    public async Task Pause_patch_resume_and_delete_are_pushed()
    {
        await using var hub = await AdminHubClient.ConnectAsync(Host.Address);
        await hub.WatchTenantsAsync();

        (await Admin.PostAsync("/admin/tenants/beta/pause", null)).EnsureSuccessStatusCode();
        Assert.NotNull(await AdminHubClient.WaitForAsync(hub.Tenants, "beta", r => (bool)r["paused"]! && (string?)r["paused_by"] == "admin"));

        (await Admin.PatchAsync("/admin/tenants/beta", RelayHost.Json(new { requests_per_minute = 7, monthly_budget_usd = 3.5 }))).EnsureSuccessStatusCode();
        Assert.NotNull(await AdminHubClient.WaitForAsync(hub.Tenants, "beta",
            r => r["limits"]!["requests_per_minute"] is { } rpm && (int)rpm == 7 && (decimal?)r["limits"]!["monthly_budget_usd"] == 3.5m));

        (await Admin.PostAsync("/admin/tenants/beta/resume", null)).EnsureSuccessStatusCode();
        Assert.NotNull(await AdminHubClient.WaitForAsync(hub.Tenants, "beta", r => !(bool)r["paused"]! && r["paused_by"] is null));

        using (var created = await Admin.PostAsync("/admin/tenants", RelayHost.Json(new { id = "gamma", max_concurrent = 3 })))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        Assert.NotNull(await AdminHubClient.WaitForAsync(hub.Tenants, "gamma", r => r["limits"]!["max_concurrent"] is { } c && (int)c == 3));

        (await Admin.DeleteAsync("/admin/tenants/gamma")).EnsureSuccessStatusCode();
        await Eventually.WaitAsync(() => Task.FromResult(hub.Removed.ToArray()), removed => removed.Contains("gamma"));
        Assert.Contains("gamma", hub.Removed);
        Assert.False(hub.Tenants.ContainsKey("gamma"));
    }

    private async Task SendChatsAsync(int count)
    {
        using var client = Host.ClientFor(Key);
        for (var i = 0; i < count; i++)
        {
            using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat($"live {i}", extra: new { max_tokens = 3 })));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }
}

/// <summary>The tenants feed on the embedded store.</summary>
public sealed class EmbeddedAdminHubFeedTests : AdminHubFeedContract
{
    protected override Task<RelayHost> StartAsync((string, string?)[] tenants) => Task.FromResult(new RelayHost(RelayHost.SimulatorSettings(tenants)));
}

/// <summary>The tenants feed on the Redis store.</summary>
public sealed class RedisAdminHubFeedTests : AdminHubFeedContract
{
    private readonly RedisServer _redis = new();

    protected override async Task<RelayHost> StartAsync((string, string?)[] tenants)
    {
        await _redis.InitializeAsync();
        return new RelayHost(RelayHost.SimulatorSettings([("Relay:Store", "redis"), ("Relay:Redis", _redis.ConnectionString), .. tenants]));
    }

    protected override Task StopAsync() => _redis.DisposeAsync();
}
