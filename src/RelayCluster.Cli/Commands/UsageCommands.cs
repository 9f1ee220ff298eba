using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace RelayCluster.Cli.Commands;

/// <summary>
/// <c>usage report [--month YYYY-MM] [--tenant T] [--csv]</c>: GET <c>/admin/usage/report</c> as a table per tenant ×
/// model and, in a terminal, a bar chart of cost by model; <c>--csv</c> prints the server's CSV (Accept: text/csv) as sent.
/// </summary>
internal static class UsageCommands
{
    public static Command Build(Cli cli)
    {
        var usage = new Command("usage", "Where the money goes.");
        var month = new Option<string?>("--month") { Description = "The month as YYYY-MM (default: the current UTC month)." };
        var tenant = new Option<string?>("--tenant") { Description = "Only this tenant." };
        var csv = new Option<bool>("--csv") { Description = "Print the server's CSV report as it is." };
        var json = Cli.JsonOption();
        var report = new Command("report", "Requests, tokens and cost per tenant and model for a month.") { month, tenant, csv, json };
        report.SetAction(async (parse, cancellation) =>
        {
            var query = new List<string>();
            if (parse.GetValue(month) is { } m)
            {
                query.Add("month=" + Uri.EscapeDataString(m));
            }

            if (parse.GetValue(tenant) is { } t)
            {
                query.Add("tenant=" + Uri.EscapeDataString(t));
            }

            var path = "/admin/usage/report" + (query.Count > 0 ? "?" + string.Join('&', query) : "");
            var wantsCsv = parse.GetValue(csv);
            var body = await cli.Client(parse).SendAsync(HttpMethod.Get, path, KeyKind.Admin, accept: wantsCsv ? "text/csv" : "application/json", cancellation: cancellation);
            if (wantsCsv || parse.GetValue(json))
            {
                // Verbatim: the CSV's CRLF line ends are the server's (RFC 4180), not re-ended here.
                await cli.Session.Out.WriteAsync(body);
                await cli.Session.Out.FlushAsync(cancellation);
                return 0;
            }

            Print(cli.Output, RelayClient.ParseObject(body));
            return 0;
        });
        usage.Add(report);
        return usage;
    }

    internal static readonly string[] Columns =
        ["tenant", "model", "requests", "errors", "prompt_tokens", "completion_tokens", "cached_tokens", "total_tokens", "cost_usd"];

    private static void Print(Output output, JsonObject report)
    {
        var lines = (report["data"] as JsonArray ?? []).OfType<JsonObject>()
            .SelectMany(t => (t["models"] as JsonArray ?? []).OfType<JsonObject>()).ToList();
        var rows = lines.Select(Row).ToList();
        if (report["totals"] is JsonObject totals)
        {
            var total = Row(totals);
            total[0] = "total";
            total[1] = "*";
            rows.Add(total);
        }

        output.Table(Columns, rows, title: $"usage in {Output.Cell(report["month"])}");
        if (output.Plain)
        {
            return;
        }

        var byModel = lines.GroupBy(l => Output.Cell(l["model"]), StringComparer.Ordinal)
            .Select(g => (Model: g.Key, Usd: g.Sum(l => l["cost_usd"]?.GetValue<decimal>() ?? 0)))
            .OrderByDescending(m => m.Usd).ToList();
        if (byModel.Count == 0)
        {
            output.Note("no usage in this month");
            return;
        }

        var chart = new BarChart().Label("cost by model (USD)").Width(Math.Min(100, output.Console.Profile.Width)).UseValueFormatter(
            (value, culture) => value.ToString("0.######", culture));
        Color[] palette = [Color.SteelBlue1, Color.Green3, Color.Orange1, Color.MediumPurple2, Color.Gold1, Color.Aqua];
        for (var i = 0; i < byModel.Count; i++)
        {
            chart.AddItem(byModel[i].Model, (double)byModel[i].Usd, palette[i % palette.Length]);
        }

        output.Console.Write(chart);
    }

    private static string[] Row(JsonObject line) => [.. Columns.Select(c => Output.Cell(line[c]))];

    internal static string Format(decimal value) => value.ToString(CultureInfo.InvariantCulture);
}
