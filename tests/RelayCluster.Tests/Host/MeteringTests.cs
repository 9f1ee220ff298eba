using Microsoft.Extensions.DependencyInjection;
using System.Net;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

public sealed class MeteringTests
{
    [Fact]
    public async Task A_restarted_relay_restores_the_months_spend_from_the_usage_log()
    {
        using var usageDirectory = new TempDirectory();
        var settings = RelayHost.SimulatorSettings(("Relay:Tenants:t1:Keys:0", "sk-restart-key"), ("Relay:Tenants:t1:MonthlyBudgetUsd", "1"));
        long spentBefore;
        using (var first = new RelayHost(settings, usageDirectory.Path))
        using (var client = first.ClientFor("sk-restart-key"))
        {
            for (var i = 0; i < 3; i++)
            {
                (await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat($"bill me {i}", stream: i == 1)))).EnsureSuccessStatusCode();
            }

            spentBefore = (long)(await first.WaitForIdleAsync("t1"))["spent_nanos"]!;
        }

        using var second = new RelayHost(settings, usageDirectory.Path);
        Assert.True(spentBefore > 0);
        Assert.Equal(spentBefore, (long)(await second.QuotaAsync("t1"))["spent_nanos"]!);
        Assert.Equal(3, (long)(await second.UsageAsync("t1"))["requests"]!);
    }

    [Fact]
    public async Task Every_settled_request_is_one_line_of_the_usage_log_with_its_ending()
    {
        using var host = new RelayHost(RelayHost.SimulatorSettings(("Relay:Tenants:t1:Keys:0", "sk-log-key")));
        using var client = host.ClientFor("sk-log-key");
        (await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("one")))).EnsureSuccessStatusCode();
        Assert.Equal(HttpStatusCode.InternalServerError, (await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("[[sim error=500]]")))).StatusCode);
        await host.WaitForIdleAsync("t1");
        await host.Services.GetRequiredService<RelayCluster.Core.Metering.IUsageLedger>().FlushAsync();

        var lines = Directory.GetFiles(host.UsageDirectory, "usage-*.jsonl").SelectMany(File.ReadAllLines).ToList();
        Assert.Equal(2, lines.Count);
        var records = lines.Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!).ToList();
        Assert.Equal(["completed", "upstream_error"], records.Select(r => (string)r["ending"]!).Order());
        Assert.All(records, r => Assert.Equal("t1", (string?)r["tenant"]));
        Assert.All(records, r => Assert.StartsWith("req_", (string?)r["request_id"], StringComparison.Ordinal));
        Assert.Contains(records, r => (long)r["cost_nanos"]! > 0 && (double)r["latency_ms"]! > 0);
    }
}
