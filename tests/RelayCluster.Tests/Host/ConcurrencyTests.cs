using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>Limits and budgets hold exactly under concurrent load, over real HTTP.</summary>
public sealed class ConcurrencyTests
{
    [Fact]
    public async Task Two_hundred_concurrent_requests_against_rpm_50_admit_exactly_50()
    {
        using var host = new RelayHost(RelayHost.SimulatorSettings(
            ("Relay:Tenants:t1:Keys:0", "sk-rpm-key"), ("Relay:Tenants:t1:RequestsPerMinute", "50")));
        using var client = host.ClientFor("sk-rpm-key");

        var responses = await Task.WhenAll(Enumerable.Range(0, 200).Select(async i =>
        {
            using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat($"req {i}", extra: new { max_tokens = 4 })));
            return (response.StatusCode, RetryAfter: response.Headers.RetryAfter, Code: response.IsSuccessStatusCode
                ? null : (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["code"]);
        }));

        Assert.Equal(50, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.All(responses.Where(r => r.StatusCode != HttpStatusCode.OK), r =>
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, r.StatusCode);
            Assert.Equal("rate_limit_exceeded", r.Code);
            Assert.NotNull(r.RetryAfter);
        });

        var quota = await host.WaitForIdleAsync("t1");
        Assert.Equal(50, (long)quota["requests_in_window"]!);
        Assert.Equal(50, (long)(await host.UsageAsync("t1"))["requests"]!);
    }

    [Fact]
    public async Task A_small_budget_under_100_concurrent_requests_is_never_exceeded()
    {
        const decimal budgetUsd = 0.0002m; // about ten requests' worst case
        using var host = new RelayHost(RelayHost.SimulatorSettings(
            ("Relay:Tenants:t1:Keys:0", "sk-budget-key"), ("Relay:Tenants:t1:MonthlyBudgetUsd", budgetUsd.ToString(System.Globalization.CultureInfo.InvariantCulture))));
        using var client = host.ClientFor("sk-budget-key");

        var statuses = await Task.WhenAll(Enumerable.Range(0, 100).Select(async i =>
        {
            using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat($"spend {i} [[sim ttft=20]]", extra: new { max_tokens = 16 })));
            if (!response.IsSuccessStatusCode)
            {
                Assert.Equal("insufficient_quota", (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["code"]);
                Assert.Equal("false", response.Headers.GetValues("x-should-retry").Single());
            }

            return response.StatusCode;
        }));

        var quota = await host.WaitForIdleAsync("t1");
        var spent = (long)quota["spent_nanos"]!;
        Assert.InRange(spent, 1, (long)(budgetUsd * 1_000_000_000m));
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);

        // The ledger agrees with the grain to the nano-dollar, one record per admitted request.
        var usage = await host.UsageAsync("t1");
        Assert.Equal(spent, (long)usage["cost_nanos"]!);
        Assert.Equal(statuses.Count(s => s == HttpStatusCode.OK), (long)usage["requests"]!);
    }

    [Fact]
    public async Task Concurrency_slots_refuse_the_excess_and_all_come_back()
    {
        using var host = new RelayHost(RelayHost.SimulatorSettings(
            ("Relay:Tenants:t1:Keys:0", "sk-slots-key"), ("Relay:Tenants:t1:MaxConcurrent", "3")));
        using var client = host.ClientFor("sk-slots-key");

        var statuses = await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
        {
            using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat($"slot {i} [[sim ttft=300]]", stream: i % 2 == 0)));
            await response.Content.ReadAsStringAsync();
            return response.StatusCode;
        }));

        Assert.InRange(statuses.Count(s => s == HttpStatusCode.OK), 3, 19);
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        await host.WaitForIdleAsync("t1");
    }
}
