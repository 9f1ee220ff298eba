using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Routing;

/// <summary>Shadow copies are never seen nor billed; a fallback to a dearer target never overruns a budget.</summary>
public sealed class ShadowAndBudgetTests
{
    [Fact]
    public async Task Shadow_traffic_never_changes_the_callers_response_is_never_billed_and_is_compared_for_admins()
    {
        await using var host = await RoutingHost.StartAsync(null,
            ("Relay:Routes:chat:Targets:0:Model", "cheap"), ("Relay:Routes:chat:Shadow:Model", "dear"), ("Relay:Routes:chat:Shadow:Percent", "100"));
        using var client = host.Relay.ClientFor(RoutingHost.Key);
        const int requests = 6;
        for (var i = 0; i < requests; i++)
        {
            using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RoutingHost.Chat("chat", $"shadow me {i}", stream: i % 2 == 0)));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("primary", response.Headers.GetValues("x-relay-provider").Single());
        }

        using var admin = host.Relay.ClientFor(RelayHost.AdminKey);
        var view = await Eventually.WaitAsync(() => admin.GetFromJsonAsync<JsonObject>("/admin/routes/chat/shadow"),
            v => (long)v!["aggregates"]!["compared"]! == requests);
        Assert.Equal(requests, (long)view!["aggregates"]!["exact_matches"]!); // the same simulator behind both: the same text
        var recent = view["recent"]!.AsArray();
        Assert.Equal(requests, recent.Count);
        Assert.All(recent, c => Assert.Equal(("cheap", "dear", 200, 200, 1.0),
            ((string)c!["primary_model"]!, (string)c["shadow_model"]!, (int)c["primary_status"]!, (int)c["shadow_status"]!, (double)c["similarity"]!)));
        Assert.Equal(requests, await RoutingHost.CallsAsync(host.Secondary)); // the shadow calls really happened

        // Billed: the primary calls only, at the cheap price; nothing for the shadow model.
        await host.Relay.WaitForIdleAsync("t");
        var usage = await host.Relay.UsageAsync("t");
        Assert.Equal(requests, (long)usage["requests"]!);
        Assert.Null(usage["by_model"]!["dear"]);
        Assert.Equal((long)usage["by_model"]!["cheap"]!["cost_nanos"]!, (long)usage["cost_nanos"]!);
    }

    [Fact]
    public async Task A_failing_shadow_target_does_not_touch_the_caller()
    {
        await using var host = await RoutingHost.StartAsync(null,
            ("Relay:Routes:chat:Targets:0:Model", "cheap"), ("Relay:Routes:chat:Shadow:Model", "dear"), ("Relay:Routes:chat:Shadow:Percent", "100"));
        await RoutingHost.FaultAsync(host.Secondary, 500);
        using var client = host.Relay.ClientFor(RoutingHost.Key);

        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RoutingHost.Chat("chat", "hi")));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var admin = host.Relay.ClientFor(RelayHost.AdminKey);
        var view = await Eventually.WaitAsync(() => admin.GetFromJsonAsync<JsonObject>("/admin/routes/chat/shadow"),
            v => (long)v!["aggregates"]!["compared"]! == 1);
        Assert.Equal(1, (long)view!["aggregates"]!["shadow_failures"]!);
        Assert.Equal("closed", await FallbackTests.CircuitAsync(host.Relay, "secondary")); // shadow failures never trip the breaker
    }

    [Fact]
    public async Task Admission_reserves_at_the_dearest_target_so_a_fallback_cannot_overrun_the_budget()
    {
        // Worst case of this request: ~30 prompt tokens + 100 output tokens. At the cheap price that is ~23 µUSD,
        // at the dear price ~1.6 mUSD. A budget of 0.001 USD admits the first and must refuse the second.
        await using var host = await RoutingHost.StartAsync(null, [.. RoutingHost.ChainRoute, ("Relay:Tenants:t:MonthlyBudgetUsd", "0.001")]);
        using var client = host.Relay.ClientFor(RoutingHost.Key);
        var body = RelayHost.Json(RoutingHost.Chat("cheap", "x", extra: new { max_tokens = 100 }));
        using (var direct = await client.PostAsync("/v1/chat/completions", body))
        {
            Assert.Equal(HttpStatusCode.OK, direct.StatusCode);
        }

        using var routed = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RoutingHost.Chat("chat", "x", extra: new { max_tokens = 100 })));
        Assert.Equal(HttpStatusCode.TooManyRequests, routed.StatusCode);
        Assert.Equal("insufficient_quota", (string?)(await routed.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["code"]);
        Assert.Equal(0, await RoutingHost.CallsAsync(host.Secondary));
    }

    [Fact]
    public async Task A_fallback_is_billed_at_the_dearer_target_and_spend_stays_within_the_budget()
    {
        await using var host = await RoutingHost.StartAsync(null,
            [.. RoutingHost.ChainRoute, ("Relay:Providers:primary:Resilience:MaxAttempts", "1"), ("Relay:Tenants:t:MonthlyBudgetUsd", "0.004")]);
        await RoutingHost.FaultAsync(host.Primary, 503);
        using var client = host.Relay.ClientFor(RoutingHost.Key);

        var statuses = await Task.WhenAll(Enumerable.Range(0, 12).Select(async i =>
        {
            using var response = await client.PostAsync("/v1/chat/completions",
                RelayHost.Json(RoutingHost.Chat("chat", $"spend {i} [[sim tokens=16]]", extra: new { max_tokens = 100 })));
            return response.StatusCode;
        }));

        var quota = await host.Relay.WaitForIdleAsync("t");
        var usage = await host.Relay.UsageAsync("t");
        var ok = statuses.Count(s => s == HttpStatusCode.OK);
        Assert.True(ok >= 1, "at least one request fits the budget");
        Assert.Equal(ok, (long)usage["by_model"]!["dear"]!["requests"]!);
        var dear = usage["by_model"]!["dear"]!;
        var expected = (long)dear["prompt_tokens"]! * 3000 + (long)dear["completion_tokens"]! * 15000; // nano-USD at 3 / 15 $ per MTok
        Assert.Equal(expected, (long)usage["cost_nanos"]!);
        Assert.True((long)quota["spent_nanos"]! <= 4_000_000, $"spent {quota["spent_nanos"]} nano-USD of a 4,000,000 budget");
    }
}
