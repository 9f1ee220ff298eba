using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Cli;

/// <summary>relayctl's usage report, routes and batch commands against a real silo, compared with the endpoints' own answers.</summary>
[Collection(CliCollection.Name)]
public sealed class RelayCtlReportsTests(CliRelay relay)
{
    private static string NewId(string prefix) => prefix + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task Usage_report_equals_the_report_endpoint_and_csv_is_verbatim()
    {
        var id = NewId("cu");
        var key = await relay.CreateTenantAsync(id);
        using (var tenant = relay.Host.ClientFor(key))
        {
            for (var i = 0; i < 4; i++)
            {
                (await tenant.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat($"report {i}")))).EnsureSuccessStatusCode();
            }

            (await tenant.PostAsync("/v1/embeddings", RelayHost.Json(new { model = "mock-embed", input = "embed me" }))).EnsureSuccessStatusCode();
        }

        await Eventually.WaitAsync(() => relay.Host.UsageAsync(id), u => (long)u["requests"]! == 5);
        var report = (await relay.Admin.GetFromJsonAsync<JsonObject>($"/admin/usage/report?tenant={id}"))!;
        var lines = report["data"]![0]!["models"]!.AsArray();
        Assert.Equal(2, lines.Count);

        var run = await relay.RunAsync("usage", "report", "--tenant", id);
        Assert.Equal(0, run.Exit);
        var rows = run.Rows();
        foreach (var line in lines)
        {
            var row = rows.Single(r => r["model"] == (string)line!["model"]!);
            Assert.Equal(id, row["tenant"]);
            foreach (var column in new[] { "requests", "errors", "prompt_tokens", "completion_tokens", "total_tokens", "cost_usd" })
            {
                Assert.Equal(line![column]!.ToJsonString(), row[column]);
            }
        }

        Assert.Equal(report["totals"]!["cost_usd"]!.ToJsonString(), rows.Single(r => r["tenant"] == "total")["cost_usd"]);
        Assert.Equal("5", rows.Single(r => r["tenant"] == "total")["requests"]);

        using var csvRequest = new HttpRequestMessage(HttpMethod.Get, $"/admin/usage/report?tenant={id}");
        csvRequest.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/csv"));
        using var csvResponse = await relay.Admin.SendAsync(csvRequest);
        var csv = await csvResponse.Content.ReadAsStringAsync();
        var csvRun = await relay.RunAsync("usage", "report", "--tenant", id, "--csv");
        Assert.Equal(0, csvRun.Exit);
        Assert.Equal(csv, csvRun.Out);
        Assert.Contains($"{id},mock-fast,4,", csv, StringComparison.Ordinal);

        // In a terminal: the table and a bar chart of cost by model.
        var rich = await relay.RunAsync(null, plain: false, "usage", "report", "--tenant", id);
        Assert.Equal(0, rich.Exit);
        Assert.Contains("cost by model (USD)", rich.Out, StringComparison.Ordinal);
        Assert.Contains("mock-embed", rich.Out, StringComparison.Ordinal);
        Assert.Contains('█', rich.Out);

        var badMonth = await relay.RunAsync("usage", "report", "--month", "2026-13");
        Assert.Equal(1, badMonth.Exit);
        Assert.StartsWith("error: 400 ", badMonth.Err, StringComparison.Ordinal);
        Assert.Contains("(param month)", badMonth.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Routes_weights_then_show_reflects_them_and_activate_switches_the_alternative()
    {
        var show = await relay.RunAsync("routes", "show", "roll");
        Assert.Equal(0, show.Exit);
        var blue = show.Rows().Where(r => r["alternative"] == "blue").ToList();
        Assert.Equal(["95", "5"], blue.Select(r => r["weight"]));
        Assert.All(blue, r => Assert.Equal("yes", r["active"]));

        var weights = await relay.RunAsync("routes", "weights", "roll", "mock-fast=50", "mock-fast-b=50");
        Assert.Equal(0, weights.Exit);
        Assert.Equal(["50", "50"], weights.Rows().Where(r => r["alternative"] == "blue").Select(r => r["weight"]));
        var stored = (await relay.Admin.GetFromJsonAsync<JsonObject>("/admin/routes/roll"))!;
        Assert.Equal(50, (int)stored["alternatives"]!["blue"]!["targets"]![1]!["weight"]!);
        var again = await relay.RunAsync("routes", "show");
        Assert.Equal("50", again.Rows().Single(r => r["model"] == "roll" && r["target"] == "mock-fast-b")["weight"]);

        var activated = await relay.RunAsync("routes", "activate", "roll", "green");
        Assert.Equal(0, activated.Exit);
        Assert.Equal("yes", activated.Rows().Single(r => r["alternative"] == "green")["active"]);
        Assert.Equal("green", (string)(await relay.Admin.GetFromJsonAsync<JsonObject>("/admin/routes/roll"))!["active"]!);

        var badPair = await relay.RunAsync("routes", "weights", "roll", "mock-fast:5");
        Assert.Equal(2, badPair.Exit);
        var notTarget = await relay.RunAsync("routes", "weights", "roll", "--alternative", "blue", "nobody=5");
        Assert.Equal(1, notTarget.Exit);
        Assert.StartsWith("error: 400 ", notTarget.Err, StringComparison.Ordinal);
        Assert.Equal(0, (await relay.RunAsync("routes", "activate", "roll", "blue")).Exit);
    }

    [Fact]
    public async Task Batch_submit_wait_downloads_the_output_and_error_files_of_the_batch()
    {
        var id = NewId("cb");
        var key = await relay.CreateTenantAsync(id);
        using var dir = new TempDirectory();
        var input = Path.Combine(dir.Path, "input.jsonl");
        var ids = new[] { "a-1", "a-2", "a-3", "bad-1" };
        await File.WriteAllLinesAsync(input, ids.Select(c => new JsonObject
        {
            ["custom_id"] = c, ["method"] = "POST", ["url"] = "/v1/chat/completions",
            ["body"] = JsonNode.Parse((string)RelayHost.Chat("batch " + c, extra: c.StartsWith("bad", StringComparison.Ordinal) ? new { model = "no-such-model" } : null)),
        }.ToJsonString()));
        var outDir = Path.Combine(dir.Path, "out");

        var run = await relay.RunAsync(key, plain: true, "batch", "submit", input, "--endpoint", "/v1/chat/completions", "--wait", "--out", outDir);
        Assert.Equal(0, run.Exit);
        var fields = run.Fields();
        Assert.Equal(("completed", "4"), (fields["status"], fields["total"]));
        var batch = (await relay.Admin.GetFromJsonAsync<JsonObject>($"/admin/tenants/{id}/batches/{fields["id"]}"))!;
        Assert.Equal((int)batch["request_counts"]!["completed"]!, int.Parse(fields["completed"], System.Globalization.CultureInfo.InvariantCulture));

        using var tenant = relay.Host.ClientFor(key);
        var answered = new List<string>();
        foreach (var (field, suffix) in new[] { ("output_file_id", "output"), ("error_file_id", "error") })
        {
            var path = Path.Combine(outDir, $"{fields["id"]}_{suffix}.jsonl");
            Assert.Equal(path, fields[$"{suffix}_file"]);
            var expected = await tenant.GetByteArrayAsync($"/v1/files/{(string)batch[field]!}/content");
            Assert.Equal(expected, await File.ReadAllBytesAsync(path));
            answered.AddRange(Encoding.UTF8.GetString(expected).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => (string)JsonNode.Parse(l)!["custom_id"]!));
        }

        Assert.Equal(ids.Order(), answered.Order());
        Assert.Contains("completed\t4/4", run.Err, StringComparison.Ordinal); // the progress, on stderr in plain mode

        var list = await relay.RunAsync("batch", "list", "--tenant", id);
        Assert.Equal(0, list.Exit);
        Assert.Equal("completed", list.Rows().Single(r => r["id"] == fields["id"])["status"]);
        var show = await relay.RunAsync("batch", "show", fields["id"], "--tenant", id, "--json");
        Assert.Equal(0, show.Exit);
        Assert.Equal((string)batch["output_file_id"]!, (string)JsonNode.Parse(show.Out)!["output_file_id"]!);

        Assert.Equal(2, (await relay.RunAsync(key, plain: true, "batch", "submit", Path.Combine(dir.Path, "missing.jsonl"), "--endpoint", "/v1/chat/completions")).Exit);
        Assert.Equal(2, (await relay.RunAsync(key, plain: true, "batch", "submit", input)).Exit); // --endpoint is required
    }

    [Fact]
    public async Task Batch_submit_wait_of_a_batch_that_fails_validation_says_why_on_its_one_error_line()
    {
        var id = NewId("cf");
        var key = await relay.CreateTenantAsync(id);
        using var dir = new TempDirectory();
        var input = Path.Combine(dir.Path, "bad.jsonl");
        await File.WriteAllTextAsync(input, "not json at all\n");

        var run = await relay.RunAsync(key, plain: true, "batch", "submit", input, "--endpoint", "/v1/chat/completions", "--wait", "--out", dir.Path);
        Assert.Equal(1, run.Exit);
        var batch = (await relay.Admin.GetFromJsonAsync<JsonObject>($"/admin/tenants/{id}/batches/{run.Fields()["id"]}"))!;
        Assert.Equal("failed", (string?)batch["status"]);
        var first = batch["errors"]!["data"]![0]!;
        var line = run.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
        Assert.StartsWith($"error: batch {batch["id"]} ended failed: ", line, StringComparison.Ordinal);
        Assert.Contains((string)first["message"]!, line, StringComparison.Ordinal);
        Assert.Contains((string)first["code"]!, line, StringComparison.Ordinal);
        Assert.Equal(["bad.jsonl"], Directory.GetFiles(dir.Path).Select(Path.GetFileName)); // no output or error file to save
    }

    [Fact]
    public async Task Batch_submit_wait_with_an_out_dir_it_cannot_create_is_a_usage_error_before_any_batch_is_made()
    {
        var id = NewId("co");
        var key = await relay.CreateTenantAsync(id);
        using var dir = new TempDirectory();
        var input = Path.Combine(dir.Path, "in.jsonl");
        await File.WriteAllTextAsync(input, new JsonObject
        {
            ["custom_id"] = "a", ["method"] = "POST", ["url"] = "/v1/chat/completions", ["body"] = JsonNode.Parse((string)RelayHost.Chat("hi")),
        }.ToJsonString() + "\n");
        var outDir = Path.Combine(input, "out"); // under a file: never a directory

        var run = await relay.RunAsync(key, plain: true, "batch", "submit", input, "--endpoint", "/v1/chat/completions", "--wait", "--out", outDir);
        Assert.Equal(2, run.Exit);
        Assert.StartsWith("error: batch submit: --out", run.Err, StringComparison.Ordinal);
        Assert.Empty((await relay.Admin.GetFromJsonAsync<JsonObject>($"/admin/tenants/{id}/batches"))!["data"]!.AsArray());
    }

    [Fact]
    public async Task Batch_cancel_cancels_a_running_batch()
    {
        var id = NewId("cc");
        var key = await relay.CreateTenantAsync(id);
        using var dir = new TempDirectory();
        var input = Path.Combine(dir.Path, "slow.jsonl");
        await File.WriteAllLinesAsync(input, Enumerable.Range(0, 20).Select(i => new JsonObject
        {
            ["custom_id"] = $"s-{i}", ["method"] = "POST", ["url"] = "/v1/chat/completions",
            ["body"] = JsonNode.Parse((string)RelayHost.Chat($"slow {i}", extra: new { model = "mock-slow" })),
        }.ToJsonString()));
        var submitted = await relay.RunAsync(key, plain: true, "batch", "submit", input, "--endpoint", "/v1/chat/completions");
        Assert.Equal(0, submitted.Exit);
        var batchId = submitted.Fields()["id"];

        var cancelled = await relay.RunAsync("batch", "cancel", batchId, "--tenant", id);
        Assert.Equal(0, cancelled.Exit);
        Assert.Contains(cancelled.Fields()["status"], new[] { "cancelling", "cancelled" });
        var final = await Eventually.WaitAsync(() => relay.Admin.GetFromJsonAsync<JsonObject>($"/admin/tenants/{id}/batches/{batchId}")!,
            b => (string)b!["status"]! == "cancelled", TimeSpan.FromSeconds(15));
        Assert.Equal("cancelled", (string)final!["status"]!);
        Assert.True((int)final["request_counts"]!["completed"]! < 20);

        var twice = await relay.RunAsync("batch", "cancel", "batch_doesnotexist", "--tenant", id);
        Assert.Equal(1, twice.Exit);
        Assert.StartsWith("error: 404 not_found:", twice.Err, StringComparison.Ordinal);
    }
}
