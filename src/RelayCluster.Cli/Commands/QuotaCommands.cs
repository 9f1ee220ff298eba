using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace RelayCluster.Cli.Commands;

/// <summary>
/// <c>quota watch TENANT</c>: GET <c>/admin/tenants/{id}/quota</c> once a second until Ctrl+C, as a live table in a
/// terminal and as one tab-separated row per poll in plain mode; <c>--once</c> prints it once and exits (scripts, tests).
/// A poll rather than the admin hub: one small GET a second costs the relay nothing and needs no token exchange.
/// </summary>
internal static class QuotaCommands
{
    private static readonly string[] RowColumns = ["time", "requests_in_window", "tokens_in_window", "in_flight", "reserved_usd", "spent_usd"];

    public static Command Build(Cli cli)
    {
        var quota = new Command("quota", "A tenant's quota: window, concurrency and budget.");
        var tenant = new Argument<string>("TENANT") { Description = "The tenant's id." };
        var once = new Option<bool>("--once") { Description = "Print the quota once and exit." };
        var json = Cli.JsonOption();
        json.Description = "Print the server's JSON (one object per line when watching).";
        var watch = new Command("watch", "Watch a tenant's quota move, refreshed every second until Ctrl+C.") { tenant, once, json };
        watch.SetAction(async (parse, cancellation) =>
        {
            var client = cli.Client(parse);
            var path = $"/admin/tenants/{Cli.Segment(parse.GetValue(tenant)!)}/quota";
            // The first read fails fast (an unknown tenant, a wrong key) before any live display starts.
            var body = await client.SendAsync(HttpMethod.Get, path, KeyKind.Admin, cancellation: cancellation);
            if (parse.GetValue(once))
            {
                if (parse.GetValue(json))
                {
                    cli.Output.Verbatim(body);
                }
                else if (cli.Output.Plain)
                {
                    cli.Output.Fields(Fields(RelayClient.ParseObject(body)));
                }
                else
                {
                    cli.Output.Console.Write(Table(RelayClient.ParseObject(body)));
                }

                return 0;
            }

            try
            {
                await WatchAsync(cli, parse.GetValue(json), body, () => client.SendAsync(HttpMethod.Get, path, KeyKind.Admin, cancellation: cancellation), cancellation);
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
            {
                // Ctrl+C: the normal way to stop watching.
            }

            return 0;
        });
        quota.Add(watch);
        return quota;
    }

    private static async Task WatchAsync(Cli cli, bool json, string first, Func<Task<string>> poll, CancellationToken cancellation)
    {
        var interval = cli.Session.PollInterval;
        if (json || cli.Output.Plain)
        {
            var output = cli.Session.Out;
            if (!json)
            {
                await output.WriteLineAsync(string.Join('\t', RowColumns));
            }

            for (var body = first; ; body = await poll())
            {
                await output.WriteLineAsync(json ? body.TrimEnd() : string.Join('\t', Row(RelayClient.ParseObject(body))));
                await output.FlushAsync(cancellation);
                await Task.Delay(interval, cancellation);
            }
        }

        await cli.Output.Console.Live(Table(RelayClient.ParseObject(first))).AutoClear(false).StartAsync(async live =>
        {
            while (true)
            {
                await Task.Delay(interval, cancellation);
                live.UpdateTarget(Table(RelayClient.ParseObject(await poll())));
            }
        });
    }

    /// <summary>Every field of the quota, limits flattened, under the server's names.</summary>
    internal static IEnumerable<(string Name, string Value)> Fields(JsonObject quota)
    {
        foreach (var (name, value) in quota)
        {
            if (value is JsonObject nested)
            {
                foreach (var (inner, innerValue) in nested)
                {
                    yield return (inner, Output.Cell(innerValue, "unlimited"));
                }
            }
            else
            {
                yield return (name, Output.Cell(value));
            }
        }
    }

    private static string[] Row(JsonObject q) =>
    [
        DateTime.UtcNow.ToString("HH:mm:ss", CultureInfo.InvariantCulture), Output.Cell(q["requests_in_window"]), Output.Cell(q["tokens_in_window"]),
        Output.Cell(q["in_flight"]), Output.Cell(q["reserved_usd"]), Output.Cell(q["spent_usd"]),
    ];

    /// <summary>Used against the limit, per dimension, with what is left.</summary>
    private static Table Table(JsonObject q)
    {
        var limits = q["limits"];
        var budget = limits?["monthly_budget_usd"];
        var spent = q["spent_usd"]?.GetValue<decimal>() ?? 0;
        var reserved = q["reserved_usd"]?.GetValue<decimal>() ?? 0;
        var left = budget is null ? "-" : (budget.GetValue<decimal>() - spent - reserved).ToString(CultureInfo.InvariantCulture);
        string[] headers = ["", "used", "limit", "remaining"];
        var table = Output.BuildTable(headers,
        [
            ["requests (1 min window)", Output.Cell(q["requests_in_window"]), Output.Cell(limits?["requests_per_minute"], "unlimited"), Output.Cell(q["remaining_requests"])],
            ["tokens (1 min window)", Output.Cell(q["tokens_in_window"]), Output.Cell(limits?["tokens_per_minute"], "unlimited"), Output.Cell(q["remaining_tokens"])],
            ["in flight", Output.Cell(q["in_flight"]), Output.Cell(limits?["max_concurrent"], "unlimited"), "-"],
            [$"spent USD ({Output.Cell(q["month"])})", Output.Cell(q["spent_usd"]), Output.Cell(budget, "unlimited"), left],
            ["reserved USD (in flight)", Output.Cell(q["reserved_usd"]), "-", "-"],
        ], title: $"quota of {Output.Cell(q["tenant"])} at {DateTime.UtcNow.ToString("HH:mm:ss", CultureInfo.InvariantCulture)} UTC");
        return table;
    }
}
