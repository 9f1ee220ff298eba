using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Routing;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Routing;

/// <summary>
/// Every route an admin can list can also be read and changed by its name in a path: <c>stats</c> (any case) is no
/// route name, since <c>GET /admin/routes/stats</c> is the per-target statistics; a name with a slash
/// (<c>org/model</c>) is addressed escaped (<c>org%2Fmodel</c>), as the console and relayctl send it.
/// </summary>
public sealed class RouteNamesInPathsTests
{
    private static RelayHost Host() => new(RelayHost.SimulatorSettings(
    [
        ("Relay:Models:old:Provider", "sim"), ("Relay:Models:new:Provider", "sim"),
        ("Relay:Routes:org/model:Targets:0:Model", "old"), ("Relay:Routes:org/model:Targets:0:Weight", "1"),
        ("Relay:Routes:org/model:Targets:1:Model", "new"), ("Relay:Routes:org/model:Targets:1:Weight", "1"),
    ]));

    [Fact]
    public async Task A_route_cannot_be_named_stats_whose_path_is_the_statistics()
    {
        using var host = Host();
        using var admin = host.ClientFor(RelayHost.AdminKey);

        foreach (var name in (string[])["stats", "Stats"])
        {
            using var put = await admin.PutAsync($"/admin/routes/{name}", RelayHost.Json("""{"targets":[{"model":"old"}]}"""));
            var error = (await put.Content.ReadFromJsonAsync<JsonObject>())!["error"]!;

            Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
            Assert.Equal("model", (string?)error["param"]);
            Assert.Contains("/admin/routes/stats", (string?)error["message"], StringComparison.Ordinal);
            var routes = (await admin.GetFromJsonAsync<JsonObject>("/admin/routes"))!["data"]!.AsArray();
            Assert.DoesNotContain(routes, r => string.Equals((string?)r!["model"], name, StringComparison.OrdinalIgnoreCase));
            Assert.Equal("list", (string?)(await admin.GetFromJsonAsync<JsonObject>($"/admin/routes/{name}"))!["object"]); // still the statistics
        }
    }

    [Fact]
    public void A_configured_route_named_stats_is_refused_at_start()
    {
        var options = new RelayOptions();
        options.Routes["STATS"] = new RouteDefinition();
        options.Models["stats"] = new(); // a model may be called so: only a route's name is a path under /admin/routes

        Assert.Equal([true], ConfiguredNames.Problems(options).Select(p => p.Contains("Relay:Routes:STATS", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_route_with_a_slash_in_its_name_is_read_and_changed_by_its_escaped_name()
    {
        using var host = Host();
        using var admin = host.ClientFor(RelayHost.AdminKey);
        var escaped = Uri.EscapeDataString("org/model");

        Assert.Equal("org/model", (string?)(await admin.GetFromJsonAsync<JsonObject>($"/admin/routes/{escaped}"))!["model"]);
        using var patch = await admin.PatchAsync($"/admin/routes/{escaped}/weights", RelayHost.Json("""{"weights":{"old":0,"new":1}}"""));
        Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        var targets = (await admin.GetFromJsonAsync<JsonObject>($"/admin/routes/{escaped}"))!["alternatives"]!["default"]!["targets"]!.AsArray();
        Assert.Equal([0, 1], targets.Select(t => (int)t!["weight"]!));
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync($"/admin/routes/{escaped}/shadow")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/admin/routes/org%2Fnothing")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.DeleteAsync($"/admin/routes/{escaped}")).StatusCode);
    }
}
