using System.Text;
using System.Text.Json.Serialization;

namespace RelayCluster.Bench.Tenant;

/// <summary>One measured run of one build and store at one count of open reservations.</summary>
internal sealed record RunLine(
    string Build, string Store, int Concurrency, int Open, int OpenAfter, long Pairs, double Seconds, double PairsPerSecond,
    double P50Ms, double P99Ms, double DriverMicrosPerPair, double RedisMicrosPerPair, double OtherMicrosPerPair);

[JsonSerializable(typeof(RunLine))]
[JsonSourceGenerationOptions(NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
internal sealed partial class TenantJson : JsonSerializerContext;

/// <summary>The hot-tenant section of the report, and its rows for the summary (issue 11's figure 3).</summary>
internal static class TenantReport
{
    public static (string Section, List<string> Summary) Write(List<RunLine> lines, double target)
    {
        var md = new StringBuilder();
        md.AppendLine("## 3. One hot tenant: durable admit + settle pairs per second on one grain").AppendLine();
        md.AppendLine($"bench/RelayCluster.Bench.Tenant drives `ITenantGrainFactory.GetTenant(id)` directly (no HTTP): {lines.FirstOrDefault()?.Concurrency ?? 0} workers, "
            + "each awaiting AdmitAsync then SettleAsync on one tenant (unlimited limits), after *open* reservations were admitted and left open. "
            + "Every pair is checked (admitted, settle booked once); after each run the tenant's spend must equal the settles' sum and exactly "
            + "*open* reservations must remain in flight (*open after*). *lua* = the Redis Lua store (one script a turn, acknowledged once "
            + "redis-server ran it; AOF appendfsync everysec); *orleans* = the TenantGrain in an in-process silo. *driver* = the benchmark "
            + "process (the store's client; with an in-process silo, the grain too); µs per pair. Runs of the builds alternate.").AppendLine();
        md.AppendLine("| build | store | open | open after | pairs | pairs/s | pair p50 ms | pair p99 ms | driver µs/pair | redis-server µs/pair | other µs/pair |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var l in lines)
        {
            md.AppendLine($"| {l.Build} | {l.Store} | {l.Open} | {l.OpenAfter} | {l.Pairs} | {l.PairsPerSecond:0} | {l.P50Ms:0.00} | {l.P99Ms:0.00} | "
                + $"{l.DriverMicrosPerPair:0} | {l.RedisMicrosPerPair:0.0} | {l.OtherMicrosPerPair:0} |");
        }

        md.AppendLine();
        var summary = new List<string>();
        foreach (var open in lines.Select(l => l.Open).Distinct())
        {
            var old = Runs(lines, "old", open);
            var now = Runs(lines, "new", open);
            if (now.Count == 0)
            {
                continue;
            }

            var met = now.All(l => l.PairsPerSecond >= target);
            summary.Add($"| 3. one hot tenant, durable admit+settle pairs/s, {open} open reservations in its state, c={now[0].Concurrency} (each run) | ≥ {target:#,0}/s | "
                + $"{Each(old, l => l.PairsPerSecond, "#,0", "/s")} | {Each(now, l => l.PairsPerSecond, "#,0", "/s")} | {(met ? "met" : "**missed**")} |");
            summary.Add($"| 3. redis-server CPU per pair, {open} open (each run) | (none) | {Each(old, l => l.RedisMicrosPerPair, "0.0", " µs")} | "
                + $"{Each(now, l => l.RedisMicrosPerPair, "0.0", " µs")} | – |");
        }

        return (md.ToString(), summary);
    }

    /// <summary>A build's runs at one count, in the order they ran (runs of the builds alternate).</summary>
    private static List<RunLine> Runs(List<RunLine> lines, string build, int open) =>
        [.. lines.Where(l => l.Build == build && l.Open == open)];

    /// <summary>"16,923 / 17,183/s (lua)": every run's figure, and the store.</summary>
    private static string Each(List<RunLine> runs, Func<RunLine, double> pick, string format, string unit) =>
        runs.Count == 0 ? "–" : $"{string.Join(" / ", runs.Select(r => pick(r).ToString(format, System.Globalization.CultureInfo.InvariantCulture)))}{unit} ({runs[0].Store})";
}
