using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;

namespace RelayCluster.Cli.Commands;

/// <summary>
/// <c>routes show [MODEL]</c>, <c>routes weights MODEL target=w …</c> (a rollout step: 5 → 50 → 100) and
/// <c>routes activate MODEL ALTERNATIVE</c> (a rollback) over <c>/admin/routes</c>. One row per target:
/// model, alternative, whether it is the active one, lane, target model, weight.
/// </summary>
internal static class RoutesCommands
{
    private static readonly string[] Columns = ["model", "alternative", "active", "lane", "target", "weight"];
    private static readonly string[] Lanes = ["targets", "stream", "non_stream", "batch"];

    public static Command Build(Cli cli)
    {
        var routes = new Command("routes", "Show routes, change their weights, switch their active alternative.");
        routes.Add(Show(cli));
        routes.Add(Weights(cli));
        routes.Add(Activate(cli));
        return routes;
    }

    private static Command Show(Cli cli)
    {
        var model = new Argument<string?>("MODEL") { Description = "One route (default: every route).", Arity = ArgumentArity.ZeroOrOne };
        var json = Cli.JsonOption();
        var command = new Command("show", "Routes with their alternatives, targets and weights.") { model, json };
        command.SetAction(async (parse, cancellation) =>
        {
            var name = parse.GetValue(model);
            var path = name is null ? "/admin/routes" : $"/admin/routes/{Cli.Segment(name)}";
            var body = await cli.Client(parse).SendAsync(HttpMethod.Get, path, KeyKind.Admin, cancellation: cancellation);
            if (parse.GetValue(json))
            {
                cli.Output.Verbatim(body);
                return 0;
            }

            var answer = RelayClient.ParseObject(body);
            var list = name is null ? (answer["data"] as JsonArray ?? []).OfType<JsonObject>() : [answer];
            cli.Output.Table(Columns, list.SelectMany(Rows));
            return 0;
        });
        return command;
    }

    private static Command Weights(Cli cli)
    {
        var model = new Argument<string>("MODEL") { Description = "The route's model name." };
        var weights = new Argument<string[]>("TARGET=WEIGHT") { Description = "New weights, e.g. gpt-new=5 gpt-old=95.", Arity = ArgumentArity.OneOrMore };
        var alternative = new Option<string?>("--alternative") { Description = "The alternative to change (default: the active one)." };
        var lane = new Option<string?>("--lane") { Description = "targets (default), stream, non_stream or batch." };
        lane.AcceptOnlyFromAmong(Lanes);
        var json = Cli.JsonOption();
        var command = new Command("weights", "Set target weights on a route: the next requests follow them on every silo.") { model, weights, alternative, lane, json };
        command.SetAction(async (parse, cancellation) =>
        {
            var map = new JsonObject();
            foreach (var pair in parse.GetValue(weights)!)
            {
                var at = pair.LastIndexOf('=');
                if (at <= 0 || !int.TryParse(pair.AsSpan(at + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var w))
                {
                    throw new UsageException($"routes weights: expected TARGET=WEIGHT with a whole weight, but got '{pair}'");
                }

                map[pair[..at]] = w;
            }

            var body = new JsonObject { ["weights"] = map };
            if (parse.GetValue(alternative) is { } a)
            {
                body["alternative"] = a;
            }

            if (parse.GetValue(lane) is { } l)
            {
                body["lane"] = l;
            }

            return await PrintRouteAsync(cli, parse, json, HttpMethod.Patch, $"/admin/routes/{Cli.Segment(parse.GetValue(model)!)}/weights", body, cancellation);
        });
        return command;
    }

    private static Command Activate(Cli cli)
    {
        var model = new Argument<string>("MODEL") { Description = "The route's model name." };
        var alternative = new Argument<string>("ALTERNATIVE") { Description = "The alternative to serve from now on." };
        var json = Cli.JsonOption();
        var command = new Command("activate", "Switch a route to another alternative (a rollback): every silo within a second.") { model, alternative, json };
        command.SetAction((parse, cancellation) => PrintRouteAsync(cli, parse, json, HttpMethod.Post,
            $"/admin/routes/{Cli.Segment(parse.GetValue(model)!)}/activate", new JsonObject { ["alternative"] = parse.GetValue(alternative) }, cancellation));
        return command;
    }

    private static async Task<int> PrintRouteAsync(Cli cli, ParseResult parse, Option<bool> json, HttpMethod method, string path, JsonObject body, CancellationToken cancellation)
    {
        var answer = await cli.Client(parse).SendAsync(method, path, KeyKind.Admin, body, cancellation: cancellation);
        if (parse.GetValue(json))
        {
            cli.Output.Verbatim(answer);
            return 0;
        }

        cli.Output.Table(Columns, Rows(RelayClient.ParseObject(answer)));
        return 0;
    }

    /// <summary>A route's targets, one row each; the shorthand form (lists at the top level) is the alternative <c>default</c>.</summary>
    internal static IEnumerable<IReadOnlyList<string>> Rows(JsonObject route)
    {
        var model = Output.Cell(route["model"]);
        var alternatives = new List<(string Name, JsonObject Body)>();
        if (Lanes.Any(l => route[l] is JsonArray) || route["shadow"] is JsonObject)
        {
            alternatives.Add(("default", route));
        }

        if (route["alternatives"] is JsonObject named)
        {
            alternatives.AddRange(named.Where(a => a.Value is JsonObject).Select(a => (a.Key, a.Value!.AsObject())));
        }

        var active = route["active"]?.ToString() ?? (alternatives.Count == 1 ? alternatives[0].Name : "default");
        foreach (var (name, body) in alternatives)
        {
            var isActive = name == active ? "yes" : "no";
            foreach (var lane in Lanes)
            {
                foreach (var target in (body[lane] as JsonArray ?? []).OfType<JsonObject>())
                {
                    yield return [model, name, isActive, lane, Output.Cell(target["model"]), Output.Cell(target["weight"])];
                }
            }

            if (body["shadow"] is JsonObject shadow)
            {
                yield return [model, name, isActive, "shadow", Output.Cell(shadow["model"]), Output.Cell(shadow["percent"]) + "%"];
            }
        }
    }
}
