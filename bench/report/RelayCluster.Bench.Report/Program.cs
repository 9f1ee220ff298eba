using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;
using RelayCluster.Redis;

// bench/report: books usage records through each store's real booking path, then times the usage report over HTTP.
//   book-embedded DIR RECORDS TENANTS MODELS        JsonlUsageLedger.Append (the embedded grain's call), then a flush
//   book-redis    REDIS RECORDS TENANTS MODELS BATCH RedisTenantJournal.CommitAsync: tenant-commit.lua with BATCH records a
//                                                    commit (the grain's group commit), 4 tenants at a time
//   measure       URL ADMINKEY RUNS RECORDS COST      GET /admin/usage/report (JSON, CSV) and POST .../compare, RUNS times each;
//                                                    checks the totals against what was booked
// Each prints one JSON line.
return args.FirstOrDefault() switch
{
    "book-embedded" => await BookEmbeddedAsync(args[1], Int(args[2]), Int(args[3]), Int(args[4])),
    "book-redis" => await BookRedisAsync(args[1], Int(args[2]), Int(args[3]), Int(args[4]), Int(args[5])),
    "measure" => await MeasureAsync(args[1], args[2], Int(args[3]), long.Parse(args[4], CultureInfo.InvariantCulture), long.Parse(args[5], CultureInfo.InvariantCulture)),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: book-embedded DIR RECORDS TENANTS MODELS | book-redis REDIS RECORDS TENANTS MODELS BATCH | measure URL ADMINKEY RUNS RECORDS COST");
    return 2;
}

static int Int(string value) => int.Parse(value, CultureInfo.InvariantCulture);

static async Task<int> BookEmbeddedAsync(string directory, int records, int tenants, int models)
{
    var now = DateTimeOffset.UtcNow;
    var cost = 0L;
    var watch = Stopwatch.StartNew();
    await using (var ledger = new JsonlUsageLedger(directory, TimeProvider.System, NullLogger<JsonlUsageLedger>.Instance))
    {
        for (var i = 0; i < records; i++)
        {
            var record = BenchRecords.Make(i, tenants, models, now);
            cost += record.CostNanos;
            ledger.Append(record);
        }

        await ledger.FlushAsync();
    }

    Print("embedded", records, watch.Elapsed, cost);
    return 0;
}

static async Task<int> BookRedisAsync(string configuration, int records, int tenants, int models, int batch)
{
    var now = DateTimeOffset.UtcNow;
    var month = Money.MonthOf(now);
    await using var redis = await RedisConnection.ConnectAsync(configuration);
    var journal = new RedisTenantJournal(redis);
    var costs = new long[tenants];
    var watch = Stopwatch.StartNew();
    await Parallel.ForEachAsync(Enumerable.Range(0, tenants), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (t, _) =>
    {
        var tenant = BenchRecords.Tenant(t);
        var epoch = (await journal.LoadAsync(tenant)).Epoch; // as an activation does: its commits are fenced by this epoch
        var changes = new TenantChanges();
        for (var i = t; i < records; i += tenants)
        {
            var record = BenchRecords.Make(i, tenants, models, now);
            costs[t] += record.CostNanos;
            changes.Ledger.Add(new LedgerEntry(month, record));
            if (changes.Ledger.Count == batch)
            {
                await journal.CommitAsync(tenant, epoch, changes);
                changes = new TenantChanges();
            }
        }

        if (changes.Ledger.Count > 0)
        {
            await journal.CommitAsync(tenant, epoch, changes);
        }
    });

    Print("redis", records, watch.Elapsed, costs.Sum());
    return 0;
}

static void Print(string store, int records, TimeSpan elapsed, long cost) => Console.WriteLine(new JsonObject
{
    ["phase"] = "book", ["store"] = store, ["records"] = records, ["seconds"] = Math.Round(elapsed.TotalSeconds, 2),
    ["records_per_second"] = Math.Round(records / elapsed.TotalSeconds), ["cost_nanos"] = cost,
}.ToJsonString());

static async Task<int> MeasureAsync(string url, string adminKey, int runs, long records, long cost)
{
    using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(2) };
    http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", adminKey);
    var compareBody = """{"prices":{"bench-model-0":{"input_per_mtok":0.15,"output_per_mtok":0.6,"cached_input_per_mtok":0.075},"bench-model-1":{"input_per_mtok":2.5,"output_per_mtok":10}},"batch_factor":0.5}""";
    var failures = 0;
    foreach (var (name, send) in new (string, Func<Task<HttpResponseMessage>>)[]
    {
        ("report_json", () => http.GetAsync("/admin/usage/report")),
        ("report_csv", () => http.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/admin/usage/report") { Headers = { Accept = { new MediaTypeWithQualityHeaderValue("text/csv") } } })),
        ("report_one_tenant", () => http.GetAsync("/admin/usage/report?tenant=" + BenchRecords.Tenant(0))),
        ("compare", () => http.PostAsync("/admin/usage/report/compare", new StringContent(compareBody, Encoding.UTF8, "application/json"))),
    })
    {
        var times = new List<double>();
        var bytes = 0;
        string body = "";
        for (var run = 0; run < runs; run++)
        {
            var watch = Stopwatch.StartNew();
            using var response = await send();
            body = await response.Content.ReadAsStringAsync();
            times.Add(watch.Elapsed.TotalMilliseconds);
            bytes = Encoding.UTF8.GetByteCount(body);
            failures += response.IsSuccessStatusCode ? 0 : 1;
        }

        times.Sort();
        var line = new JsonObject
        {
            ["phase"] = "measure", ["call"] = name, ["runs"] = runs, ["min_ms"] = Math.Round(times[0], 2),
            ["median_ms"] = Math.Round(times[times.Count / 2], 2), ["max_ms"] = Math.Round(times[^1], 2), ["bytes"] = bytes,
        };
        if (name == "report_json")
        {
            // The report must hold exactly what was booked: its speed means nothing otherwise.
            var totals = JsonNode.Parse(body)!["totals"]!;
            line["requests"] = (long)totals["requests"]!;
            line["cost_nanos"] = (long)totals["cost_nanos"]!;
            line["matches_booked"] = (long)totals["requests"]! == records && (long)totals["cost_nanos"]! == cost;
            failures += (bool)line["matches_booked"]! ? 0 : 1;
        }

        Console.WriteLine(line.ToJsonString());
    }

    return failures == 0 ? 0 : 1;
}

/// <summary>Deterministic records: record i is the same in every run and on every store.</summary>
internal static class BenchRecords
{
    private static readonly string[] Endings =
    [
        RelayCluster.Core.Metering.Endings.ClientDisconnected, RelayCluster.Core.Metering.Endings.UpstreamError,
        RelayCluster.Core.Metering.Endings.UpstreamErrorMidStream, RelayCluster.Core.Metering.Endings.UpstreamTruncated,
    ];

    public static string Tenant(int t) => "t" + t.ToString("00", CultureInfo.InvariantCulture);

    public static UsageRecord Make(int i, int tenants, int models, DateTimeOffset now)
    {
        var h = Mix((ulong)i);
        var model = (int)(h % (ulong)models);
        var prompt = 50 + (long)(h >> 8) % 2000;
        var completion = (long)(h >> 20) % 600;
        var cached = (h >> 32) % 10 < 3 ? prompt / 2 : 0;
        var batch = (h >> 36) % 10 == 0;
        var ending = (h >> 40) % 100 < 95 ? RelayCluster.Core.Metering.Endings.Completed : Endings[(int)((h >> 48) % (ulong)Endings.Length)];
        var inputPer = 100 + (model * 250); // n$ a token: $0.10 to $2.35 per million
        return new UsageRecord
        {
            TimestampMs = now.ToUnixTimeMilliseconds(), Tenant = Tenant(i % tenants), RequestId = "req_bench_" + i.ToString(CultureInfo.InvariantCulture),
            Endpoint = "/v1/chat/completions", Model = "bench-model-" + model.ToString(CultureInfo.InvariantCulture), UpstreamModel = "m", Provider = "p",
            Stream = (h >> 44) % 10 < 4 && !batch, PromptTokens = prompt, CompletionTokens = completion, CachedTokens = cached > 0 ? cached : null,
            CostNanos = (((prompt - cached) * inputPer) + (cached * inputPer / 2) + (completion * inputPer * 4)) / (batch ? 2 : 1),
            Ending = ending, Status = 200, LatencyMs = 100, Lane = batch ? UsageLanes.Batch : UsageLanes.Interactive, Attempts = 1,
        };
    }

    private static ulong Mix(ulong x)
    {
        x += 0x9E3779B97F4A7C15;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EB;
        return x ^ (x >> 31);
    }
}
