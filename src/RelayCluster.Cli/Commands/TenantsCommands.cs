using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;

namespace RelayCluster.Cli.Commands;

/// <summary>
/// <c>tenants list|show|create|patch|pause|resume</c> over <c>/admin/tenants</c>. Limits take a number or
/// <c>none</c> (unlimited; on patch, clears the limit); an omitted flag leaves the limit as it is.
/// </summary>
internal static class TenantsCommands
{
    public static Command Build(Cli cli)
    {
        var tenants = new Command("tenants", "List, inspect, create and change tenants.");
        tenants.Add(List(cli));
        tenants.Add(Show(cli));
        tenants.Add(Write(cli, create: true));
        tenants.Add(Write(cli, create: false));
        tenants.Add(Pause(cli, paused: true));
        tenants.Add(Pause(cli, paused: false));
        return tenants;
    }

    private static Command List(Cli cli)
    {
        var json = Cli.JsonOption();
        var command = new Command("list", "Every tenant with its limits and this month's spend.") { json };
        command.SetAction(async (parse, cancellation) =>
        {
            var body = await cli.Client(parse).SendAsync(HttpMethod.Get, "/admin/tenants", KeyKind.Admin, cancellation: cancellation);
            if (parse.GetValue(json))
            {
                cli.Output.Verbatim(body);
                return 0;
            }

            var rows = (RelayClient.ParseObject(body)["data"] as JsonArray ?? []).OfType<JsonObject>().Select(t =>
            {
                var quota = t["quota"];
                var limits = quota?["limits"];
                return (IReadOnlyList<string>)
                [
                    Output.Cell(t["id"]), Output.Cell(t["paused"]), Output.Cell(t["models"]),
                    Output.Cell(limits?["requests_per_minute"], "unlimited"), Output.Cell(limits?["tokens_per_minute"], "unlimited"),
                    Output.Cell(limits?["max_concurrent"], "unlimited"), Output.Cell(limits?["monthly_budget_usd"], "unlimited"),
                    Output.Cell(quota?["spent_usd"]), Output.Cell(quota?["in_flight"]),
                ];
            });
            cli.Output.Table(["id", "paused", "models", "requests_per_minute", "tokens_per_minute", "max_concurrent", "monthly_budget_usd", "spent_usd", "in_flight"], rows);
            return 0;
        });
        return command;
    }

    private static Command Show(Cli cli)
    {
        var id = new Argument<string>("TENANT") { Description = "The tenant's id." };
        var json = Cli.JsonOption();
        var command = new Command("show", "A tenant: models, limits, usage in the window and the month, keys (their ids, never the keys).") { id, json };
        command.SetAction(async (parse, cancellation) =>
        {
            var body = await cli.Client(parse).SendAsync(HttpMethod.Get, $"/admin/tenants/{Cli.Segment(parse.GetValue(id)!)}", KeyKind.Admin, cancellation: cancellation);
            if (parse.GetValue(json))
            {
                cli.Output.Verbatim(body);
                return 0;
            }

            PrintTenant(cli.Output, RelayClient.ParseObject(body));
            return 0;
        });
        return command;
    }

    /// <summary><c>tenants create ID [limits]</c> (prints the first key, once) or <c>tenants patch ID limits</c>.</summary>
    private static Command Write(Cli cli, bool create)
    {
        var id = new Argument<string>("TENANT") { Description = create ? "The new tenant's id." : "The tenant's id." };
        var json = Cli.JsonOption();
        var limits = new LimitOptions();
        var command = create
            ? new Command("create", "Create a tenant and its first API key (shown once). Limits default to unlimited, models to \"*\".")
            : new Command("patch", "Change a tenant's limits, thresholds, webhook or models; omitted flags stay as they are.");
        command.Add(id);
        limits.AddTo(command);
        command.Add(json);
        command.SetAction(async (parse, cancellation) =>
        {
            var tenant = parse.GetValue(id)!;
            var body = limits.Body(parse);
            if (!create && body.Count == 0)
            {
                throw new UsageException("tenants patch: nothing to change; pass at least one of " + string.Join(", ", limits.Names));
            }

            if (create)
            {
                body.Insert(0, "id", tenant);
            }

            var client = cli.Client(parse);
            var answer = create
                ? await client.SendAsync(HttpMethod.Post, "/admin/tenants", KeyKind.Admin, body, cancellation: cancellation)
                : await client.SendAsync(HttpMethod.Patch, $"/admin/tenants/{Cli.Segment(tenant)}", KeyKind.Admin, body, cancellation: cancellation);
            if (parse.GetValue(json))
            {
                cli.Output.Verbatim(answer);
                return 0;
            }

            var view = RelayClient.ParseObject(answer);
            PrintTenant(cli.Output, view);
            if (create && view["key"] is JsonObject key)
            {
                cli.Output.NewKey(tenant, key);
            }

            return 0;
        });
        return command;
    }

    private static Command Pause(Cli cli, bool paused)
    {
        var id = new Argument<string>("TENANT") { Description = "The tenant's id." };
        var json = Cli.JsonOption();
        var command = paused
            ? new Command("pause", "Refuse the tenant's requests (429) until it is resumed.") { id, json }
            : new Command("resume", "Serve the tenant again (lifts an admin's pause and a pause threshold's alike).") { id, json };
        command.SetAction(async (parse, cancellation) =>
        {
            var tenant = parse.GetValue(id)!;
            var answer = await cli.Client(parse).SendAsync(HttpMethod.Post, $"/admin/tenants/{Cli.Segment(tenant)}/{(paused ? "pause" : "resume")}", KeyKind.Admin, cancellation: cancellation);
            if (parse.GetValue(json))
            {
                cli.Output.Verbatim(answer);
                return 0;
            }

            cli.Output.Fields([("id", tenant), ("paused", Output.Cell(RelayClient.ParseObject(answer)["paused"]))]);
            return 0;
        });
        return command;
    }

    /// <summary>A tenant view (GET /admin/tenants/{id}) as fields, then its keys.</summary>
    private static void PrintTenant(Output output, JsonObject view)
    {
        var quota = view["quota"];
        var limits = quota?["limits"];
        var alerts = view["alerts"];
        output.Fields(
        [
            ("id", Output.Cell(view["id"])),
            ("created_at", Output.Time(view["created_at"])),
            ("models", Output.Cell(view["models"])),
            ("paused", Output.Cell(view["paused"])),
            ("requests_per_minute", Output.Cell(limits?["requests_per_minute"], "unlimited")),
            ("tokens_per_minute", Output.Cell(limits?["tokens_per_minute"], "unlimited")),
            ("max_concurrent", Output.Cell(limits?["max_concurrent"], "unlimited")),
            ("monthly_budget_usd", Output.Cell(limits?["monthly_budget_usd"], "unlimited")),
            ("alert_threshold", Output.Cell(alerts?["alert_threshold"])),
            ("pause_threshold", Output.Cell(alerts?["pause_threshold"])),
            ("month", Output.Cell(quota?["month"])),
            ("requests_in_window", Output.Cell(quota?["requests_in_window"])),
            ("tokens_in_window", Output.Cell(quota?["tokens_in_window"])),
            ("in_flight", Output.Cell(quota?["in_flight"])),
            ("reserved_usd", Output.Cell(quota?["reserved_usd"])),
            ("spent_usd", Output.Cell(quota?["spent_usd"])),
        ], title: $"tenant {Output.Cell(view["id"])}");
        if (view["keys"] is JsonArray keys)
        {
            output.Table(["key_id", "prefix", "created_at"],
                keys.OfType<JsonObject>().Select(k => (IReadOnlyList<string>)[Output.Cell(k["id"]), Output.Cell(k["prefix"]), Output.Time(k["created_at"])]));
        }
    }

    /// <summary>The flags of a tenant body, each mapped to its wire field; <c>none</c> sends null (unlimited or the relay's default).</summary>
    private sealed class LimitOptions
    {
        private readonly (Option<string?> Option, string Field, Func<string, string, JsonNode?> Parse)[] _fields =
        [
            (new Option<string?>("--requests-per-minute", "--rpm") { Description = "Requests per minute, or none." }, "requests_per_minute", Count),
            (new Option<string?>("--tokens-per-minute", "--tpm") { Description = "Tokens per minute, or none." }, "tokens_per_minute", Count),
            (new Option<string?>("--max-concurrent") { Description = "Requests in flight at once, or none." }, "max_concurrent", Count),
            (new Option<string?>("--monthly-budget-usd", "--budget") { Description = "Monthly budget in US dollars, or none." }, "monthly_budget_usd", Number),
            (new Option<string?>("--alert-threshold") { Description = "Alert at this fraction of the budget (0..1; 0 = off), or none for the relay's default." }, "alert_threshold", Number),
            (new Option<string?>("--pause-threshold") { Description = "Pause at this fraction of the budget (0..1; 0 = off), or none for the relay's default." }, "pause_threshold", Number),
            (new Option<string?>("--alert-webhook-url") { Description = "Where budget alerts are posted, or none for the relay's webhook." }, "alert_webhook_url", Text),
        ];

        private readonly Option<string[]> _models = new("--models")
        {
            Description = "Models the tenant may call: names or prefix patterns (\"gpt-4*\", \"*\"), comma-separated or repeated.",
            AllowMultipleArgumentsPerToken = false,
        };

        public IEnumerable<string> Names => _fields.Select(f => f.Option.Name).Append(_models.Name);

        public void AddTo(Command command)
        {
            foreach (var (option, _, _) in _fields)
            {
                command.Add(option);
            }

            command.Add(_models);
        }

        public JsonObject Body(ParseResult parse)
        {
            var body = new JsonObject();
            foreach (var (option, field, read) in _fields)
            {
                if (parse.GetValue(option) is { } value)
                {
                    body[field] = value.Equals("none", StringComparison.OrdinalIgnoreCase) ? null : read(option.Name, value);
                }
            }

            if (parse.GetValue(_models) is { Length: > 0 } models)
            {
                body["models"] = new JsonArray([.. models.SelectMany(m => m.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Select(m => (JsonNode)m)]);
            }

            return body;
        }

        private static JsonValue Count(string flag, string value) =>
            long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
                ? JsonValue.Create(n)
                : throw new UsageException($"{flag}: expected a whole number or none, but got '{value}'");

        private static JsonValue Number(string flag, string value) =>
            decimal.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var d)
                ? JsonValue.Create(d)
                : throw new UsageException($"{flag}: expected a number or none, but got '{value}'");

        private static JsonValue Text(string flag, string value) => JsonValue.Create(value);
    }
}
