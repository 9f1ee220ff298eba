using System.Globalization;
using System.Text.Json;
using RelayCluster.Bench.Tenant;
using RelayCluster.Core.Tenants;

// `run` drives one hot tenant per --open count and appends one JSON line per run to --results;
// `report` turns the lines of several runs (old and new builds) into the markdown section and summary rows.
// bench/run-orleans.sh calls both; see bench/README.md.
var options = Options.Parse(args.Skip(1).ToArray());
switch (args.FirstOrDefault())
{
    case "run":
        var store = TenantStores.Resolve(options.Get("store", "auto"));
        ITenantGrainFactory factory;
        IAsyncDisposable owner;
        try
        {
            (factory, owner) = await TenantStores.OpenAsync(store, options.Get("redis", "127.0.0.1:6379"));
        }
        catch (NotSupportedException e)
        {
            Console.Error.WriteLine($"[tenant] --store {store}: {e.Message}");
            return 3;
        }

        await using (owner)
        {
            var others = options.Get("redis-pid", "") is { Length: > 0 } pid ? [("redis-server", int.Parse(pid, CultureInfo.InvariantCulture))] : Array.Empty<(string, int)>();
            var cpu = new ProcessCpu(others);
            var hot = new HotTenant(factory, options.Int("concurrency", 64));
            foreach (var open in options.Get("open", "0,1000").Split(',').Select(o => int.Parse(o, CultureInfo.InvariantCulture)))
            {
                var result = await hot.RunAsync(open, TimeSpan.FromSeconds(options.Double("warmup", 2)), TimeSpan.FromSeconds(options.Double("duration", 5)), cpu);
                var line = new RunLine(options.Get("build", "new"), store, options.Int("concurrency", 64), open, result.OpenAfter, result.Pairs,
                    result.Elapsed.TotalSeconds, result.PairsPerSecond, result.Percentile(50), result.Percentile(99),
                    result.MicrosPerPair("driver"), result.MicrosPerPair("redis-server"), result.MicrosPerPair("other"));
                Console.Error.WriteLine($"[tenant] {line}");
                await File.AppendAllTextAsync(options.Get("results", "tenant-results.jsonl"), JsonSerializer.Serialize(line, TenantJson.Default.RunLine) + "\n");
            }
        }

        return 0;

    case "report":
        var lines = File.ReadAllLines(options.Get("results", "tenant-results.jsonl"))
            .Select(l => JsonSerializer.Deserialize(l, TenantJson.Default.RunLine)!).ToList();
        var (section, summary) = TenantReport.Write(lines, options.Double("target", 20_000));
        await File.AppendAllTextAsync(options.Get("out", "tenant.md"), section);
        if (options.Get("summary", "") is { Length: > 0 } summaryFile)
        {
            await File.AppendAllLinesAsync(summaryFile, summary);
        }

        Console.Write(section);
        return 0;

    default:
        Console.Error.WriteLine("usage: RelayCluster.Bench.Tenant run --store auto|lua|orleans --redis HOST:PORT [--redis-pid PID] [--build old|new] [--concurrency 64] "
            + "[--open 0,1000] [--warmup 2] [--duration 5] [--results FILE.jsonl]\n"
            + "       RelayCluster.Bench.Tenant report --results FILE.jsonl --out FILE.md [--summary FILE] [--target 20000]");
        return 2;
}

/// <summary><c>--name value</c> pairs.</summary>
internal sealed class Options(Dictionary<string, string> values)
{
    public static Options Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            values[args[i].TrimStart('-')] = args[i + 1];
        }

        return new Options(values);
    }

    public string Get(string name, string fallback) => values.GetValueOrDefault(name, fallback);

    public int Int(string name, int fallback) => values.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

    public double Double(string name, double fallback) => values.TryGetValue(name, out var v) ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;
}
