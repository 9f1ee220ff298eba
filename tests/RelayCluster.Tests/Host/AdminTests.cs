using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

public sealed class AdminTests : IDisposable
{
    private readonly RelayHost _host = new(RelayHost.SimulatorSettings(
        ("Relay:Tenants:t1:Keys:0", "sk-admin-tests-key"),
        ("Relay:Tenants:t1:RequestsPerMinute", "60"),
        ("Relay:Tenants:t1:MonthlyBudgetUsd", "2.5")));

    public void Dispose() => _host.Dispose();

    [Theory]
    [InlineData(null, HttpStatusCode.Unauthorized)]
    [InlineData("not-the-admin-key", HttpStatusCode.Unauthorized)]
    [InlineData("sk-admin-tests-key", HttpStatusCode.Forbidden)]
    public async Task The_admin_api_needs_the_admin_key(string? key, HttpStatusCode expected)
    {
        using var client = key is null ? _host.CreateClient() : _host.ClientFor(key);
        using var response = await client.GetAsync("/admin/tenants/t1/quota");
        Assert.Equal(expected, response.StatusCode);
        Assert.True((await response.Content.ReadFromJsonAsync<JsonObject>())!.ContainsKey("error"));
    }

    [Fact]
    public async Task Quota_shows_limits_windows_and_money()
    {
        using var client = _host.ClientFor("sk-admin-tests-key");
        (await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("measure")))).EnsureSuccessStatusCode();

        var quota = await _host.WaitForIdleAsync("t1");
        Assert.Equal("t1", (string?)quota["tenant"]);
        Assert.Equal(60, (int)quota["limits"]!["requests_per_minute"]!);
        Assert.Equal(2.5m, (decimal)quota["limits"]!["monthly_budget_usd"]!);
        Assert.Null(quota["limits"]!["tokens_per_minute"]);
        Assert.Equal(1, (long)quota["requests_in_window"]!);
        Assert.Equal(59, (long)quota["remaining_requests"]!);
        Assert.Equal((long)quota["spent_nanos"]! / 1e9m, (decimal)quota["spent_usd"]!);
    }

    [Fact]
    public async Task Unknown_tenants_and_bad_months_are_clear_errors()
    {
        using var admin = _host.ClientFor(RelayHost.AdminKey);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/admin/tenants/nobody/quota")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.GetAsync("/admin/tenants/t1/usage?month=last")).StatusCode);
        var october = (await admin.GetFromJsonAsync<JsonObject>("/admin/tenants/t1/usage?month=2026-10"))!;
        Assert.Equal(0, (long)october["requests"]!);
    }
}
