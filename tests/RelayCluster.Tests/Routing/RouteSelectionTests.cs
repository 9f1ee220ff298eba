using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using RelayCluster.Core.Auth;
using RelayCluster.Core.Routing;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Relay;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Routing;

/// <summary>Weighted splits, lanes and live changes on one silo with the in-process simulator (fast, many requests).</summary>
public sealed class RouteSelectionTests
{
    private const string Key = "sk-split";

    private static RelayHost Host(params (string Key, string? Value)[] extra) => new(RelayHost.SimulatorSettings(
    [
        ("Relay:Models:old:Provider", "sim"), ("Relay:Models:old:InputPerMTok", "1"),
        ("Relay:Models:new:Provider", "sim"), ("Relay:Models:new:InputPerMTok", "2"),
        ("Relay:Models:fast:Provider", "sim"),
        ("Relay:Models:bulk:Provider", "sim"),
        ("Relay:Tenants:t:Keys:0", Key), ("Relay:Tenants:t:Models:0", "*"),
        .. extra,
    ]));

    private static string Model(HttpResponseMessage r) => r.Headers.GetValues("x-relay-model").Single();

    [Fact]
    public async Task A_ten_percent_split_over_2000_requests_lands_within_three_sigma()
    {
        using var host = Host(("Relay:Routes:m:Targets:0:Model", "old"), ("Relay:Routes:m:Targets:0:Weight", "90"),
            ("Relay:Routes:m:Targets:1:Model", "new"), ("Relay:Routes:m:Targets:1:Weight", "10"));
        using var client = host.ClientFor(Key);
        const int total = 2000;
        var toNew = 0;
        for (var batch = 0; batch < total / 50; batch++)
        {
            var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(async _ =>
            {
                using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RoutingHost.Chat("m", "split me")));
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                return Model(response);
            }));
            toNew += answers.Count(m => m == "new");
        }

        var sigma = Math.Sqrt(total * 0.1 * 0.9); // ≈ 13.4
        Assert.InRange(toNew, total * 0.1 - 3 * sigma, total * 0.1 + 3 * sigma);
        var usage = await host.UsageAsync("t");
        Assert.Equal(toNew, (long)usage["by_model"]!["new"]!["requests"]!);
    }

    [Fact]
    public void The_split_is_sticky_per_request_id_and_the_same_on_every_silo()
    {
        var models = new Dictionary<string, ModelRoute>
        {
            ["old"] = new("old", "sim", "old", 1, 1, 16, 0, "x"), ["new"] = new("new", "sim", "new", 2, 2, 16, 0, "x"),
        };
        var route = new RouteDefinition { Targets = [new() { Model = "old", Weight = 90 }, new() { Model = "new", Weight = 10 }] }.Normalize();
        var siloA = CompiledRoute.Compile("m", route, n => models[n]);
        var siloB = CompiledRoute.Compile("m", RouteDefinition.Parse(route.ToJson())!, n => models[n]); // another process's copy

        for (var i = 0; i < 1000; i++)
        {
            var id = "req_" + Guid.NewGuid().ToString("N");
            var first = siloA.Plan(false, false, id).Targets;
            Assert.Equal(first[0].Model, siloA.Plan(false, false, id).Targets[0].Model);
            Assert.Equal(first[0].Model, siloB.Plan(true, false, id).Targets[0].Model);
            Assert.Equal(2, first.Count); // the other target stays behind as the fallback
            Assert.NotEqual(first[0].Model, first[1].Model);
        }
    }

    [Fact]
    public void A_target_at_weight_zero_is_never_picked_first_but_stays_every_plans_fallback()
    {
        var models = new Dictionary<string, ModelRoute>
        {
            ["old"] = new("old", "sim", "old", 1, 1, 16, 0, "x"), ["new"] = new("new", "sim", "new", 2, 2, 16, 0, "x"),
            ["fast"] = new("fast", "sim", "fast", 1, 1, 16, 0, "x"),
        };
        // Drained first, in the middle and last: the walk over the weights must skip each of them.
        foreach (var weights in new[] { new[] { 0, 1, 1 }, new[] { 1, 0, 1 }, new[] { 1, 1, 0 }, new[] { 0, 0, 7 }, new[] { 7, 0, 0 } })
        {
            var names = new[] { "old", "new", "fast" };
            var route = new RouteDefinition { Targets = [.. names.Select((n, i) => new RouteTarget { Model = n, Weight = weights[i] })] }.Normalize();
            Assert.Empty(RouteValidator.Problems(route, models.ContainsKey));
            var compiled = CompiledRoute.Compile("m", route, n => models[n]);
            var firsts = new HashSet<string>();
            for (var i = 0; i < 2000; i++)
            {
                var plan = compiled.Plan(false, false, "req_" + i.ToString("x32")).Targets;
                firsts.Add(plan[0].Model);
                Assert.Equal(3, plan.Count); // drained targets still back the pick up
            }

            Assert.Equal(names.Where((_, i) => weights[i] > 0).Order(), firsts.Order());
        }
    }

    [Fact]
    public async Task Lanes_pick_different_targets_for_stream_non_stream_and_batch()
    {
        using var host = Host(("Relay:Routes:m:Stream:0:Model", "fast"), ("Relay:Routes:m:NonStream:0:Model", "old"),
            ("Relay:Routes:m:Batch:0:Model", "bulk"));
        using var client = host.ClientFor(Key);

        using var streamed = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RoutingHost.Chat("m", "s", stream: true)));
        using var plain = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RoutingHost.Chat("m", "p")));
        Assert.Equal("fast", Model(streamed));
        Assert.Equal("old", Model(plain));

        // The batch lane: what the batch workers start their items with.
        var calls = host.Services.GetRequiredService<ModelCalls>();
        var start = await calls.StartAsync(new Tenant("t", new ModelPatterns(["*"])), RelayOperation.ChatCompletions,
            System.Text.Encoding.UTF8.GetBytes(RoutingHost.Chat("m", "b")), "req_batch_1", new CallLane(CallLane.BatchName, 0.5m, 0.5));
        using var call = start.Call!;
        Assert.Equal("bulk", call.Targets[0].Model);
        var answer = await BufferedCall.RunAsync(call, ResponseBudget.ForCall(1024 * 1024), CancellationToken.None);
        Assert.Equal(200, answer.Status);
        Assert.Equal("bulk", answer.Settlement!.Value.Record.Model);
    }

    [Fact]
    public async Task Route_changes_weights_and_flag_switches_through_the_admin_api_apply_at_once_and_delete_goes_back_to_config()
    {
        using var host = Host(("Relay:Routes:m:Targets:0:Model", "old"));
        using var client = host.ClientFor(Key);
        using var admin = host.ClientFor(RelayHost.AdminKey);
        async Task<string> ServedByAsync()
        {
            using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RoutingHost.Chat("m", "x")));
            return Model(response);
        }

        Assert.Equal("old", await ServedByAsync());
        var put = await admin.PutAsync("/admin/routes/m", RelayHost.Json(new
        {
            active = "next",
            alternatives = new Dictionary<string, object>
            {
                ["next"] = new { targets = new[] { new { model = "new", weight = 1 }, new { model = "old", weight = 0 } } },
                ["old"] = new { targets = new[] { new { model = "old" } } },
            },
        }));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal("new", await ServedByAsync()); // in force when the PUT answered (old drained at weight 0)

        var patch = await admin.PatchAsync("/admin/routes/m/weights", RelayHost.Json(new { weights = new { @new = 0, old = 1 } }));
        Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        Assert.Equal("old", await ServedByAsync());

        Assert.Equal(HttpStatusCode.OK, (await admin.PatchAsync("/admin/routes/m/weights", RelayHost.Json(new { weights = new { @new = 1, old = 0 } }))).StatusCode);
        Assert.Equal("new", await ServedByAsync());
        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync("/admin/routes/m/activate", RelayHost.Json(new { alternative = "old" }))).StatusCode);
        Assert.Equal("old", await ServedByAsync()); // rollback by flag
        var listed = await admin.GetFromJsonAsync<JsonObject>("/admin/routes");
        Assert.Equal("old", (string?)listed!["data"]![0]!["active"]);

        Assert.Equal(HttpStatusCode.OK, (await admin.DeleteAsync("/admin/routes/m")).StatusCode);
        var route = await admin.GetFromJsonAsync<JsonObject>("/admin/routes/m");
        Assert.Equal("default", (string?)route!["active"]); // the configured route again
        Assert.Equal("old", await ServedByAsync());
    }

    [Theory]
    [InlineData("""{"targets":[{"model":"nope"}]}""", "targets")]
    [InlineData("""{"targets":[{"model":"old","weight":0},{"model":"new","weight":0}]}""", "targets")]
    [InlineData("""{"targets":[{"model":"old","weight":-1},{"model":"new","weight":5}]}""", "targets")]
    [InlineData("""{"targets":[{"model":"old","weight":3},{"model":"new"}]}""", "targets")]
    [InlineData("""{"targets":[{"model":"old"}],"shadow":{"model":"new","percent":150}}""", "shadow.percent")]
    [InlineData("""{"active":"missing","alternatives":{"a":{"targets":[{"model":"old"}]}}}""", "active")]
    [InlineData("""{"targets":[]}""", "targets")]
    public async Task Invalid_routes_are_refused_with_a_400_envelope_naming_the_field(string body, string field)
    {
        using var host = Host();
        using var admin = host.ClientFor(RelayHost.AdminKey);

        using var response = await admin.PutAsync("/admin/routes/m", RelayHost.Json(body));
        var error = (await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!;

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.EndsWith(field, (string?)error["param"], StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/admin/routes/m")).StatusCode);
    }

    [Fact]
    public async Task The_routes_api_needs_the_admin_key()
    {
        using var host = Host();
        using var anonymous = host.CreateClient();
        using var tenant = host.ClientFor(Key);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/admin/routes")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await tenant.PutAsync("/admin/routes/m", RelayHost.Json("""{"targets":[{"model":"old"}]}"""))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/admin/providers/health")).StatusCode);
    }
}
