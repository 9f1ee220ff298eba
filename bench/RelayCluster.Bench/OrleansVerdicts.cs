using System.Text;

namespace RelayCluster.Bench;

/// <summary>
/// Issue 11's targets for the HTTP figures (<c>--verdicts orleans</c>, run by bench/run-orleans.sh), each new build
/// next to its old one measured in the same run. Relays are paired by name: "NAME-base" is the old build of "NAME";
/// a name starting with "memory" is the embedded store, any other a cluster on Redis.
/// </summary>
internal static class OrleansVerdicts
{
    public const string Name = "orleans";

    private const double EmbeddedAddedP50TargetMs = 0.3;
    private const double ClusterAddedP50TargetMs = 0.5;
    private const double RedisMicrosPerRequestTarget = 20;

    public static void Write(StringBuilder md, BenchSettings settings, IReadOnlyList<string> names, List<PhaseResult> fixedRate, List<PhaseResult> closed)
    {
        var rows = Rows(settings, names, fixedRate, closed).ToList();
        md.AppendLine("## Targets (issue 11)").AppendLine();
        md.AppendLine("| figure | target | old build | new build | verdict |").AppendLine("| --- | --- | ---: | ---: | --- |");
        foreach (var row in rows)
        {
            md.AppendLine(row);
        }

        md.AppendLine();
        md.AppendLine("*Old build* = the last commit before Orleans (run-orleans.sh's base worktree), *new build* = this checkout, both in "
            + "the same run and rounds. CPU per request = CPU seconds of the process(es) over the measured windows ÷ requests completed; "
            + "a cluster's silo figure adds up all its silos. Added latency = relay − direct p50 at the fixed rate; by round: the same "
            + "difference within each pair of adjacent rounds.").AppendLine();
        if (settings.Summary is { } summary)
        {
            File.AppendAllLines(summary, rows);
        }
    }

    private static IEnumerable<string> Rows(BenchSettings settings, IReadOnlyList<string> names, List<PhaseResult> fixedRate, List<PhaseResult> closed)
    {
        var nonStreaming = fixedRate.Where(r => r.Phase == "non-streaming").ToList();
        foreach (var row in CpuRows(settings, names, closed, $"c={settings.Concurrency} → MockUpstream"))
        {
            yield return row;
        }

        foreach (var row in CpuRows(settings, names, nonStreaming, $"{settings.Rate} req/s open loop → MockUpstream"))
        {
            yield return row;
        }

        var direct = fixedRate.FirstOrDefault(r => r.Phase == "non-streaming" && r.Target == Report.Direct);
        foreach (var (r, old) in Report.BasePairs(settings, nonStreaming))
        {
            if (direct?.Total is null || r.Total is null)
            {
                continue;
            }

            var target = IsEmbedded(settings, r.Target) ? EmbeddedAddedP50TargetMs : ClusterAddedP50TargetMs;
            var added = r.Total.P50Ms - direct.Total.P50Ms;
            var oldAdded = old?.Total is { } o ? o.P50Ms - direct.Total.P50Ms : (double?)null;
            yield return $"| 2. added latency p50 over direct, {settings.Rate} req/s open loop, {Store(settings, r.Target)} | ≤ {target} ms | "
                + $"{(oldAdded is { } a ? $"{a:0.000} ms" : "–")} | {added:0.000} ms (by round: {Report.ByRound(direct, r, l => l.P50Ms)}) | {Report.Verdict(added <= target)} |";
        }
    }

    /// <summary>Silo and redis-server CPU per request of each new build next to its old build's, in one kind of phase.</summary>
    private static IEnumerable<string> CpuRows(BenchSettings settings, IReadOnlyList<string> names, List<PhaseResult> results, string how)
    {
        var redis = Report.IndexOf(names, "redis-server");
        foreach (var (r, old) in Report.BasePairs(settings, results))
        {
            var store = Store(settings, r.Target);
            var silo = Report.IndexOf(names, Report.SiloProcess(settings, r.Target));
            var oldSilo = Report.IndexOf(names, Report.SiloProcess(settings, old?.Target ?? ""));
            var (newMicros, oldMicros) = (Micros(r, silo), old is null ? (double?)null : Micros(old, oldSilo));
            yield return $"| 1. silo CPU per request, {how}, {store} | ≤ old | {Us(oldMicros)} | {Us(newMicros)} | "
                + $"{(oldMicros is { } o ? Report.Verdict(newMicros <= o) + $" ({newMicros / o:0.00} × old)" : "–")} |";
            if (!IsEmbedded(settings, r.Target) && redis >= 0)
            {
                var redisMicros = Micros(r, redis);
                yield return $"| 1. redis-server CPU per request, {how}, {store} | ≤ {RedisMicrosPerRequestTarget:0} µs | "
                    + $"{Us(old is null ? null : Micros(old, redis))} | {Us(redisMicros)} | {Report.Verdict(redisMicros <= RedisMicrosPerRequestTarget)} |";
            }
        }
    }


    private static bool IsEmbedded(BenchSettings settings, string target) =>
        Report.RelayOf(settings, target).StartsWith($"{Report.Relay} (memory", StringComparison.Ordinal);

    private static string Store(BenchSettings settings, string target)
    {
        var urls = settings.Relays.First(r => r.Name == Report.RelayOf(settings, target)).Urls.Count;
        return IsEmbedded(settings, target) ? "embedded (memory store)"
            : urls > 1 ? $"cluster (Redis store), {urls} silos, requests spread over them in turn" : "cluster (Redis store), 1 silo";
    }

    private static double Micros(PhaseResult r, int process) => process >= 0 && process < r.Cpu.Length ? r.CpuMicrosPerRequest(process) : double.NaN;

    private static string Us(double? micros) => micros is { } m && !double.IsNaN(m) ? $"{m:0} µs" : "–";
}
