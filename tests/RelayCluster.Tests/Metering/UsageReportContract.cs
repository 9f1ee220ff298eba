using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using RelayCluster.Core.Metering;
using RelayCluster.Tests.Files;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Metering;

/// <summary>
/// The usage report and its price comparison against the ledger itself, run on each store: a month of mixed traffic
/// (plain, streamed, embeddings, a <c>/v1/batches</c> job, a synchronous <c>/v1/batch</c>, an upstream error, an error mid
/// stream, a client that leaves) over real HTTP, then the report's lines and totals must equal, field by field, the sums
/// of the usage records the store's ledger holds (the embedded log's lines, or the Redis ledger stream).
/// </summary>
public abstract class UsageReportContract(TestStore store) : IAsyncLifetime
{
    protected const string Key1 = "sk-report-key-one-5c1e9a";
    protected const string Key2 = "sk-report-key-two-7b3d2f";

    private readonly TempDirectory _files = new();
    private readonly TempDirectory _work = new();
    private ScriptedUpstream _upstream = null!;

    protected RelayHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await store.StartAsync();

        // The "priced" model's fake upstream reports the usage written in the user message, so each call picks its own.
        _upstream = await ScriptedUpstream.ReportingUsageAsync(body => (JsonObject)JsonNode.Parse((string)body["messages"]![0]!["content"]!)!);
        Host = new RelayHost(RelayHost.SimulatorSettings(
        [
            ("Relay:Providers:fake:Type", "openai"), ("Relay:Providers:fake:BaseUrl", _upstream.BaseUrl), ("Relay:Providers:fake:ApiKey", "k"),
            ("Relay:Models:priced:Provider", "fake"), ("Relay:Models:priced:InputPerMTok", "2"),
            ("Relay:Models:priced:CachedInputPerMTok", "0.5"), ("Relay:Models:priced:OutputPerMTok", "8"),
            ("Relay:Tenants:t1:Keys:0", Key1), ("Relay:Tenants:t1:MonthlyBudgetUsd", "100"), ("Relay:Tenants:t1:MaxConcurrent", "10"),
            ("Relay:Tenants:t2:Keys:0", Key2), ("Relay:Tenants:t2:MonthlyBudgetUsd", "100"),
            ("Relay:Requests:HeartbeatSeconds", "0.1"),
            ("Relay:Files:Path", _files.Path), ("Relay:Batches:WorkPath", _work.Path),
            .. store.Settings(),
        ]));
    }

    public async Task DisposeAsync()
    {
        Host.Dispose();
        await _upstream.DisposeAsync();
        await store.StopAsync();
        _files.Dispose();
        _work.Dispose();
    }

    [Fact]
    public async Task The_reports_lines_and_totals_equal_the_ledgers_sums_for_a_month_of_mixed_traffic()
    {
        var sent = await MixedTrafficAsync(Key1, full: true) + await MixedTrafficAsync(Key2, full: false);
        await Host.WaitForIdleAsync("t1");
        await Host.WaitForIdleAsync("t2");
        var ledger = (await Eventually.WaitAsync(() => store.LedgerAsync(Host, "t1", "t2"), l => l.Count == sent))!;
        Assert.Equal(sent, ledger.Count);

        // The traffic really was mixed: every lane, streaming and ending under test is in the ledger.
        Assert.Equal(2, ledger.Count(r => r.Lane == UsageLanes.Batch)); // the /v1/batches job's items; /v1/batch is interactive
        // t1's completed plain mock-fast calls: 2 on their own and the 3 items of /v1/batch, all on the interactive lane.
        Assert.Equal(5, ledger.Count(r => r.Tenant == "t1" && r.Model == "mock-fast" && r.Lane == UsageLanes.Interactive && !r.Stream && r.Ending == Endings.Completed));
        foreach (var ending in new[] { Endings.Completed, Endings.UpstreamError, Endings.UpstreamErrorMidStream, Endings.ClientDisconnected })
        {
            Assert.Contains(ledger, r => r.Ending == ending);
        }

        Assert.Contains(ledger, r => r.Stream);
        Assert.Contains(ledger, r => r.Model == "mock-embed");
        Assert.Contains(ledger, r => r.CachedTokens > 0);

        var report = await ReportAsync("");
        Assert.Equal("usage.report", (string?)report["object"]);
        Assert.Equal(Money.MonthOf(DateTimeOffset.UtcNow), (string?)report["month"]);
        var lines = report["data"]!.AsArray().SelectMany(t => t!["models"]!.AsArray()).ToList();
        var expected = ledger.GroupBy(r => (r.Tenant, r.Model)).ToList();
        Assert.Equal(expected.Select(g => $"{g.Key.Tenant}/{g.Key.Model}").Order(StringComparer.Ordinal),
            lines.Select(l => $"{l!["tenant"]}/{l["model"]}").Order(StringComparer.Ordinal));
        foreach (var group in expected)
        {
            AssertLine(group, lines.Single(l => (string?)l!["tenant"] == group.Key.Tenant && (string?)l["model"] == group.Key.Model)!);
        }

        foreach (var tenant in report["data"]!.AsArray())
        {
            AssertLine(ledger.Where(r => r.Tenant == (string?)tenant!["tenant"]), tenant!["totals"]!);
        }

        AssertLine(ledger, report["totals"]!);

        // The console's daily view of each tenant sums to the report's totals and to /usage for the same traffic.
        foreach (var tenant in report["data"]!.AsArray())
        {
            var id = (string)tenant!["tenant"]!;
            var totals = tenant["totals"]!;
            var usage = await Host.UsageAsync(id);
            using var reader = Host.ClientFor(RelayHost.AdminKey);
            var days = JsonNode.Parse(await reader.GetStringAsync($"/admin/tenants/{id}/usage/daily"))!["data"]!.AsArray();
            long Sum(string field) => days.Sum(d => (long)d![field]!);
            Assert.Equal(
                ((long)totals["requests"]!, (long)totals["errors"]!, (long)totals["prompt_tokens"]!, (long)totals["completion_tokens"]!, (long)totals["cached_tokens"]!, (long)totals["cost_nanos"]!),
                (Sum("requests"), Sum("errors"), Sum("prompt_tokens"), Sum("completion_tokens"), Sum("cached_tokens"), Sum("cost_nanos")));
            Assert.Equal(
                ((long)usage["requests"]!, (long)usage["prompt_tokens"]!, (long)usage["completion_tokens"]!, (long)usage["cached_tokens"]!, (long)usage["cost_nanos"]!),
                (Sum("requests"), Sum("prompt_tokens"), Sum("completion_tokens"), Sum("cached_tokens"), Sum("cost_nanos")));
        }

        // One tenant alone: the same lines as in the whole report.
        var t2 = await ReportAsync("&tenant=t2");
        Assert.Equal("t2", (string?)Assert.Single(t2["data"]!.AsArray())!["tenant"]);
        AssertLine(ledger.Where(r => r.Tenant == "t2"), t2["totals"]!);

        // CSV: a header, then one row per tenant × model, which parse back to the JSON's numbers.
        using var admin = Host.ClientFor(RelayHost.AdminKey);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/admin/usage/report");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/csv"));
        using var csvResponse = await admin.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, csvResponse.StatusCode);
        Assert.Equal("text/csv", csvResponse.Content.Headers.ContentType!.MediaType);
        var rows = Csv.Parse(await csvResponse.Content.ReadAsStringAsync());
        var header = rows[0];
        Assert.Equal(lines.Count, rows.Count - 1);
        foreach (var row in rows.Skip(1))
        {
            var cells = header.Zip(row).ToDictionary(c => c.First, c => c.Second);
            var json = lines.Single(l => (string?)l!["tenant"] == cells["tenant"] && (string?)l["model"] == cells["model"])!;
            foreach (var column in new[] { "requests", "streamed_requests", "batch_requests", "prompt_tokens", "completion_tokens", "cached_tokens", "total_tokens", "cost_nanos", "errors" })
            {
                Assert.Equal((long)json[column]!, long.Parse(cells[column], System.Globalization.CultureInfo.InvariantCulture));
            }

            foreach (var column in new[] { "streamed_share", "batch_share", "avg_prompt_tokens", "avg_completion_tokens", "avg_total_tokens", "cost_usd" })
            {
                Assert.Equal((decimal)json[column]!, decimal.Parse(cells[column], System.Globalization.CultureInfo.InvariantCulture));
            }

            foreach (var ending in Endings.All)
            {
                Assert.Equal((long?)json["by_ending"]![ending] ?? 0, long.Parse(cells["ending_" + ending], System.Globalization.CultureInfo.InvariantCulture));
            }
        }
    }

    [Fact]
    public async Task The_comparison_prices_the_months_tokens_at_the_other_table_to_the_nano_dollar()
    {
        using var client = Host.ClientFor(Key1);

        // Billed at the configured prices ($2 input, $0.5 cached, $8 output per million tokens: 2,000, 500 and 8,000 n$ a token):
        //   interactive: prompt 1000 of which 800 cached, completion 5: 200 × 2000 + 800 × 500 + 5 × 8000 = 840,000 n$
        //   batch item (half price: 1,000 and 4,000 n$ a token): prompt 300, completion 7:   300 × 1000 + 7 × 4000 = 328,000 n$
        //   current = 1,168,000 n$.
        await PricedChatAsync(client, """{"prompt_tokens":1000,"completion_tokens":5,"total_tokens":1005,"prompt_tokens_details":{"cached_tokens":800}}""");
        await BatchJobAsync(client, """{"prompt_tokens":300,"completion_tokens":7,"total_tokens":307}""");
        using (var plain = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("unpriced elsewhere"))))
        {
            Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        }

        await Host.WaitForIdleAsync("t1");
        var ledger = (await Eventually.WaitAsync(() => store.LedgerAsync(Host, "t1"), l => l.Count == 3))!;
        Assert.Equal(1_168_000, ledger.Where(r => r.Model == "priced").Sum(r => r.CostNanos));
        var mockFast = ledger.Single(r => r.Model == "mock-fast").CostNanos;

        // The other table: $1.25 input, $0.3 cached, $5.0001 output, batch factor 0.4 (n$ a token = $/MTok × 1000):
        //   interactive: 200 × 1250 + 800 × 300 + 5 × 5000.1             = 250,000 + 240,000 + 25,000.5 = 515,000.5
        //   batch:      (300 × 1250 + 7 × 5000.1) × 0.4 = (375,000 + 35,000.7) × 0.4                  = 164,000.28
        //   alternative = 679,000.78, rounded up once for the model: 679,001 n$
        //   difference  = 679,001 − 1,168,000 = −488,999 n$ = −0.000488999 USD
        //   saving      = 488,999 / 1,168,000 × 100 = 41.8663…% → 41.87
        // mock-fast is not in the table: unpriced, its billed cost listed apart and left out of the comparison.
        using var admin = Host.ClientFor(RelayHost.AdminKey);
        using var response = await admin.PostAsync("/admin/usage/report/compare", RelayHost.Json("""
            {"prices": {"priced": {"input_per_mtok": 1.25, "output_per_mtok": 5.0001, "cached_input_per_mtok": 0.3}}, "batch_factor": 0.4}
            """));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var comparison = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("usage.report.comparison", (string?)comparison["object"]);
        var priced = comparison["data"]!.AsArray().Single(l => (string?)l!["model"] == "priced")!;
        Assert.Equal((1_168_000L, 679_001L, -488_999L, 0.001168m, 0.000679001m, -0.000488999m, 41.87m, false),
            ((long)priced["current_nanos"]!, (long)priced["alternative_nanos"]!, (long)priced["difference_nanos"]!, (decimal)priced["current_usd"]!,
                (decimal)priced["alternative_usd"]!, (decimal)priced["difference_usd"]!, (decimal)priced["saving_percent"]!, (bool)priced["unpriced"]!));
        var unpriced = comparison["data"]!.AsArray().Single(l => (string?)l!["model"] == "mock-fast")!;
        Assert.True((bool)unpriced["unpriced"]!);
        Assert.Null(unpriced["alternative_usd"]);
        Assert.Equal(mockFast, (long)unpriced["current_nanos"]!);

        var totals = comparison["totals"]!;
        Assert.Equal((1_168_000L + mockFast, 1_168_000L, 679_001L, -488_999L, 41.87m, Money.ToUsd(mockFast)),
            ((long)totals["current_nanos"]!, (long)totals["compared_current_nanos"]!, (long)totals["alternative_nanos"]!, (long)totals["difference_nanos"]!,
                (decimal)totals["saving_percent"]!, (decimal)totals["unpriced_current_usd"]!));
        Assert.Equal("mock-fast", (string?)Assert.Single(totals["unpriced_models"]!.AsArray()));
    }

    protected async Task<JsonObject> ReportAsync(string query, string? month = null)
    {
        using var admin = Host.ClientFor(RelayHost.AdminKey);
        using var response = await admin.GetAsync("/admin/usage/report?month=" + (month ?? Money.MonthOf(DateTimeOffset.UtcNow)) + query);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (JsonObject)JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
    }

    /// <summary>A report line against the records it sums, field by field, computed here from the records alone.</summary>
    private static void AssertLine(IEnumerable<UsageRecord> records, JsonNode line)
    {
        var r = records.ToList();
        var requests = (long)r.Count;
        Assert.Equal(requests, (long)line["requests"]!);
        Assert.Equal(r.LongCount(x => x.Stream), (long)line["streamed_requests"]!);
        Assert.Equal(r.LongCount(x => x.Lane == UsageLanes.Batch), (long)line["batch_requests"]!);
        Assert.Equal(r.Sum(x => x.PromptTokens), (long)line["prompt_tokens"]!);
        Assert.Equal(r.Sum(x => x.CompletionTokens), (long)line["completion_tokens"]!);
        Assert.Equal(r.Sum(x => Math.Clamp(x.CachedTokens ?? 0, 0, x.PromptTokens)), (long)line["cached_tokens"]!);
        Assert.Equal(r.Sum(x => x.PromptTokens + x.CompletionTokens), (long)line["total_tokens"]!);
        Assert.Equal(r.Sum(x => x.CostNanos), (long)line["cost_nanos"]!);
        Assert.Equal(r.Sum(x => x.CostNanos) / 1_000_000_000m, (decimal)line["cost_usd"]!);
        Assert.Equal(r.LongCount(x => x.Ending != Endings.Completed), (long)line["errors"]!);
        Assert.Equal(Math.Round((decimal)r.LongCount(x => x.Stream) / requests, 4, MidpointRounding.AwayFromZero), (decimal)line["streamed_share"]!);
        Assert.Equal(Math.Round((decimal)r.Sum(x => x.PromptTokens) / requests, 2, MidpointRounding.AwayFromZero), (decimal)line["avg_prompt_tokens"]!);
        var endings = r.GroupBy(x => x.Ending).ToDictionary(g => g.Key, g => g.LongCount());
        Assert.Equal(endings.OrderBy(e => e.Key, StringComparer.Ordinal),
            line["by_ending"]!.AsObject().Select(e => KeyValuePair.Create(e.Key, (long)e.Value!)).OrderBy(e => e.Key, StringComparer.Ordinal));
    }

    /// <summary>Sends a tenant's share of the month; returns how many requests the ledger must hold for it.</summary>
    private async Task<int> MixedTrafficAsync(string key, bool full)
    {
        using var client = Host.ClientFor(key);
        var sent = 0;
        foreach (var stream in full ? new[] { false, false, true } : [false])
        {
            using var chat = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("hello there", stream)));
            Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
            await chat.Content.ReadAsStringAsync();
            sent++;
        }

        using (var embedding = await client.PostAsync("/v1/embeddings", RelayHost.Json(new { model = "mock-embed", input = "embed me" })))
        {
            Assert.Equal(HttpStatusCode.OK, embedding.StatusCode);
            sent++;
        }

        if (!full)
        {
            return sent;
        }

        await PricedChatAsync(client, """{"prompt_tokens":1000,"completion_tokens":5,"total_tokens":1005,"prompt_tokens_details":{"cached_tokens":800}}""");
        await PricedChatAsync(client, """{"prompt_tokens":40,"completion_tokens":9,"total_tokens":49,"prompt_tokens_details":{"cached_tokens":5000}}""", stream: true);
        sent += 2;

        using (var sync = await client.PostAsync("/v1/batch", RelayHost.Json(new JsonObject
        {
            ["requests"] = new JsonArray([.. Enumerable.Range(0, 3).Select(i => JsonNode.Parse((string)RelayHost.Chat($"sync item {i}")))]),
        }.ToJsonString())))
        {
            Assert.Equal(HttpStatusCode.OK, sync.StatusCode);
            sent += 3;
        }

        await BatchJobAsync(client, """{"prompt_tokens":300,"completion_tokens":7,"total_tokens":307}""", """{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}""");
        sent += 2;

        using (var failed = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("[[sim error=503 retry_after=3]]"))))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
            sent++;
        }

        using (var midStream = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("[[sim mid_error=2]]", stream: true))))
        {
            await midStream.Content.ReadAsStringAsync();
            sent++;
        }

        using var leaving = Host.DisconnectingClientFor(key);
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
               { Content = RelayHost.Json(RelayHost.Chat("leave early [[sim tokens=200 interval=20]]", stream: true)) })
        using (var response = await leaving.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            var chunks = 0;
            while (chunks < 3 && await reader.ReadLineAsync() is { } line)
            {
                chunks += line.StartsWith("data: {", StringComparison.Ordinal) ? 1 : 0;
            }
        }

        return sent + 1;
    }

    private static async Task PricedChatAsync(HttpClient client, string usage, bool stream = false)
    {
        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(new
        {
            model = "priced", stream, messages = new[] { new { role = "user", content = usage } },
        }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await response.Content.ReadAsStringAsync();
    }

    /// <summary>A <c>/v1/batches</c> job of one "priced" item per usage, run to completion.</summary>
    private static async Task BatchJobAsync(HttpClient client, params string[] usages)
    {
        var input = string.Concat(usages.Select((usage, i) => new JsonObject
        {
            ["custom_id"] = $"item-{i}", ["method"] = "POST", ["url"] = "/v1/chat/completions",
            ["body"] = new JsonObject { ["model"] = "priced", ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = usage }) },
        }.ToJsonString() + "\n"));
        using var upload = await client.PostAsync("/v1/files", FilesHost.Upload(Encoding.UTF8.GetBytes(input), "in.jsonl", "batch"));
        Assert.Equal(HttpStatusCode.OK, upload.StatusCode);
        var fileId = (string)JsonNode.Parse(await upload.Content.ReadAsStringAsync())!["id"]!;
        using var created = await client.PostAsync("/v1/batches", RelayHost.Json(new { input_file_id = fileId, endpoint = "/v1/chat/completions", completion_window = "24h" }));
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        var id = (string)JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!;
        var batch = await Eventually.WaitAsync(
            async () => JsonNode.Parse(await client.GetStringAsync($"/v1/batches/{id}"))!,
            b => (string?)b["status"] is "completed" or "failed" or "expired" or "cancelled", TimeSpan.FromSeconds(30));
        Assert.Equal("completed", (string?)batch!["status"]);
    }
}
