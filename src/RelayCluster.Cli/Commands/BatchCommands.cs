using System.CommandLine;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace RelayCluster.Cli.Commands;

/// <summary>
/// <c>batch submit FILE.jsonl --endpoint E [--wait] [--out DIR]</c> with a tenant's key (upload with purpose=batch, create,
/// follow, download), and <c>batch list|show|cancel</c> with the admin key (any tenant's batches). Without <c>--tenant</c>,
/// <c>list</c> reads every tenant's batches (<c>GET /admin/batches</c>) and <c>show</c>/<c>cancel</c> use the tenant key.
/// </summary>
internal static class BatchCommands
{
    private static readonly string[] Columns = ["id", "tenant", "status", "endpoint", "completed", "failed", "total", "created_at"];
    private static readonly HashSet<string> Ended = new(StringComparer.Ordinal) { "completed", "failed", "expired", "cancelled" };

    public static Command Build(Cli cli)
    {
        var batch = new Command("batch", "Submit batches and follow them; list, show and cancel any tenant's.");
        batch.Add(Submit(cli));
        batch.Add(List(cli));
        batch.Add(ShowOrCancel(cli, cancel: false));
        batch.Add(ShowOrCancel(cli, cancel: true));
        return batch;
    }

    private static Command Submit(Cli cli)
    {
        var file = new Argument<FileInfo>("FILE") { Description = "The JSONL input: one request per line with custom_id, method, url and body." };
        var endpoint = new Option<string>("--endpoint") { Description = "The endpoint every line calls, e.g. /v1/chat/completions.", Required = true };
        var window = new Option<string>("--window") { Description = "The completion window.", DefaultValueFactory = _ => "24h" };
        var wait = new Option<bool>("--wait") { Description = "Follow the batch with a progress bar until it ends, then download its output and error files." };
        var outDir = new Option<DirectoryInfo?>("--out") { Description = "Where --wait saves BATCH_output.jsonl and BATCH_error.jsonl (default: the current directory)." };
        var json = Cli.JsonOption();
        var command = new Command("submit", "Upload a JSONL file and create a batch from it (tenant key).") { file, endpoint, window, wait, outDir, json };
        command.SetAction(async (parse, cancellation) =>
        {
            var input = parse.GetValue(file)!;
            if (!input.Exists)
            {
                throw new UsageException($"batch submit: no file '{input.FullName}'");
            }

            // The output directory is made before anything is sent: found unwritable only after the batch ran, its files
            // would be lost to this command (and a batch created for nothing).
            var directory = parse.GetValue(outDir) ?? new DirectoryInfo(Directory.GetCurrentDirectory());
            if (parse.GetValue(wait))
            {
                try
                {
                    directory.Create();
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    throw new UsageException($"batch submit: --out '{directory.FullName}' cannot be made: {ex.Message}");
                }
            }

            var client = cli.Client(parse);
            JsonObject uploaded;
            await using (var stream = input.OpenRead())
            {
                uploaded = await client.UploadAsync(input.Name, stream, "batch", cancellation);
            }

            var created = await client.SendAsync(HttpMethod.Post, "/v1/batches", KeyKind.Tenant, new JsonObject
            {
                ["input_file_id"] = uploaded["id"]?.DeepClone(),
                ["endpoint"] = parse.GetValue(endpoint),
                ["completion_window"] = parse.GetValue(window),
            }, cancellation: cancellation);
            if (!parse.GetValue(wait))
            {
                PrintOne(cli, parse.GetValue(json), created);
                return 0;
            }

            var batch = RelayClient.ParseObject(created);
            var id = Output.Cell(batch["id"]);
            batch = await FollowAsync(cli, client, id, batch, cancellation);
            var saved = new List<(string, string)>();
            foreach (var (field, suffix) in new[] { ("output_file_id", "output"), ("error_file_id", "error") })
            {
                if (batch[field]?.ToString() is { Length: > 0 } fileId)
                {
                    var path = Path.Combine(directory.FullName, $"{id}_{suffix}.jsonl");
                    await using (var target = File.Create(path))
                    {
                        await client.DownloadAsync($"/v1/files/{Cli.Segment(fileId)}/content", KeyKind.Tenant, target, cancellation);
                    }

                    saved.Add(($"{suffix}_file", path));
                }
            }

            if (parse.GetValue(json))
            {
                cli.Output.Verbatim(batch.ToJsonString());
            }
            else
            {
                var counts = batch["request_counts"];
                cli.Output.Fields([("id", id), ("status", Output.Cell(batch["status"])), ("completed", Output.Cell(counts?["completed"])),
                    ("failed", Output.Cell(counts?["failed"])), ("total", Output.Cell(counts?["total"])), .. saved]);
            }

            var status = Output.Cell(batch["status"]);
            return status == "completed" ? 0 : throw new CommandFailedException($"batch {id} ended {status}{Reason(batch)}");
        });
        return command;
    }

    /// <summary>
    /// Why a batch failed, from its <c>errors</c> list (validation: a malformed line, a wrong url or model), as
    /// <c>: CODE at line N: MESSAGE (and K more)</c>; empty when the batch has none (expired or cancelled).
    /// </summary>
    private static string Reason(JsonObject batch)
    {
        if (batch["errors"]?["data"] is not JsonArray { Count: > 0 } errors || errors[0] is not JsonObject first)
        {
            return "";
        }

        var at = first["line"] is JsonValue line ? $" at line {Output.Cell(line)}" : "";
        var more = errors.Count > 1 ? $" (and {errors.Count - 1} more)" : "";
        return $": {Output.Cell(first["code"])}{at}: {Output.Cell(first["message"]).ReplaceLineEndings(" ")}{more}";
    }

    /// <summary>Polls <c>GET /v1/batches/{id}</c> until the batch ends: a progress bar in a terminal, a line per change on stderr otherwise.</summary>
    private static async Task<JsonObject> FollowAsync(Cli cli, RelayClient client, string id, JsonObject batch, CancellationToken cancellation)
    {
        async Task<JsonObject> NextAsync()
        {
            await Task.Delay(cli.Session.PollInterval, cancellation);
            return await client.GetObjectAsync($"/v1/batches/{Cli.Segment(id)}", KeyKind.Tenant, cancellation);
        }

        if (cli.Output.Plain)
        {
            var last = "";
            while (true)
            {
                var line = $"{id}\t{Output.Cell(batch["status"])}\t{Done(batch)}/{Output.Cell(batch["request_counts"]?["total"])}";
                if (line != last)
                {
                    await cli.Session.Error.WriteLineAsync(line);
                    last = line;
                }

                if (Ended.Contains(Output.Cell(batch["status"])))
                {
                    return batch;
                }

                batch = await NextAsync();
            }
        }

        await cli.Output.Console.Progress().AutoClear(false).Columns(
            new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn()).StartAsync(async progress =>
        {
            var task = progress.AddTask(id, maxValue: 1);
            while (true)
            {
                var total = (double)(batch["request_counts"]?["total"]?.GetValue<long>() ?? 0);
                task.MaxValue = Math.Max(total, 1);
                task.Value = Done(batch);
                task.Description = Markup.Escape($"{id} {Output.Cell(batch["status"])} {Done(batch)}/{total}");
                if (Ended.Contains(Output.Cell(batch["status"])))
                {
                    task.StopTask();
                    return;
                }

                batch = await NextAsync();
            }
        });
        return batch;
    }

    private static long Done(JsonObject batch) =>
        (batch["request_counts"]?["completed"]?.GetValue<long>() ?? 0) + (batch["request_counts"]?["failed"]?.GetValue<long>() ?? 0);

    private static Command List(Cli cli)
    {
        var tenant = new Option<string?>("--tenant") { Description = "Only this tenant's batches (default: every tenant's)." };
        var limit = new Option<int?>("--limit") { Description = "At most this many, newest first (1..100)." };
        var json = Cli.JsonOption();
        var command = new Command("list", "Batches, newest first (admin key).") { tenant, limit, json };
        command.SetAction(async (parse, cancellation) =>
        {
            var path = parse.GetValue(tenant) is { } t ? $"/admin/tenants/{Cli.Segment(t)}/batches" : "/admin/batches";
            if (parse.GetValue(limit) is { } n)
            {
                path += $"?limit={n}";
            }

            var body = await cli.Client(parse).SendAsync(HttpMethod.Get, path, KeyKind.Admin, cancellation: cancellation);
            if (parse.GetValue(json))
            {
                cli.Output.Verbatim(body);
                return 0;
            }

            var rows = (RelayClient.ParseObject(body)["data"] as JsonArray ?? []).OfType<JsonObject>().Select(b => Row(b, parse.GetValue(tenant)));
            cli.Output.Table(Columns, rows);
            return 0;
        });
        return command;
    }

    private static Command ShowOrCancel(Cli cli, bool cancel)
    {
        var id = new Argument<string>("BATCH_ID") { Description = "The batch's id." };
        var tenant = new Option<string?>("--tenant") { Description = "The batch's tenant (admin key); without it the tenant key is used." };
        var json = Cli.JsonOption();
        var command = cancel
            ? new Command("cancel", "Cancel a batch: requests not yet sent are not sent.") { id, tenant, json }
            : new Command("show", "A batch: status, counts, files.") { id, tenant, json };
        command.SetAction(async (parse, cancellation) =>
        {
            var batchId = Cli.Segment(parse.GetValue(id)!);
            var owner = parse.GetValue(tenant);
            var (path, key) = owner is null ? ($"/v1/batches/{batchId}", KeyKind.Tenant) : ($"/admin/tenants/{Cli.Segment(owner)}/batches/{batchId}", KeyKind.Admin);
            var body = await cli.Client(parse).SendAsync(cancel ? HttpMethod.Post : HttpMethod.Get, cancel ? path + "/cancel" : path, key, cancellation: cancellation);
            PrintOne(cli, parse.GetValue(json), body, owner);
            return 0;
        });
        return command;
    }

    private static void PrintOne(Cli cli, bool json, string body, string? tenant = null)
    {
        if (json)
        {
            cli.Output.Verbatim(body);
            return;
        }

        var batch = RelayClient.ParseObject(body);
        var counts = batch["request_counts"];
        cli.Output.Fields(
        [
            ("id", Output.Cell(batch["id"])), ("tenant", Output.Cell(batch["tenant"] ?? (tenant is null ? null : JsonValue.Create(tenant)))),
            ("status", Output.Cell(batch["status"])), ("endpoint", Output.Cell(batch["endpoint"])),
            ("input_file_id", Output.Cell(batch["input_file_id"])), ("output_file_id", Output.Cell(batch["output_file_id"])),
            ("error_file_id", Output.Cell(batch["error_file_id"])), ("completed", Output.Cell(counts?["completed"])),
            ("failed", Output.Cell(counts?["failed"])), ("total", Output.Cell(counts?["total"])), ("created_at", Output.Time(batch["created_at"])),
        ]);
    }

    private static IReadOnlyList<string> Row(JsonObject b, string? tenant)
    {
        var counts = b["request_counts"];
        return
        [
            Output.Cell(b["id"]), Output.Cell(b["tenant"] ?? (tenant is null ? null : JsonValue.Create(tenant))), Output.Cell(b["status"]),
            Output.Cell(b["endpoint"]), Output.Cell(counts?["completed"]), Output.Cell(counts?["failed"]), Output.Cell(counts?["total"]),
            Output.Time(b["created_at"]),
        ];
    }
}
