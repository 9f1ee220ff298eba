using System.Text;

namespace RelayCluster.Bench;

/// <summary>
/// Issue 16's targets (<c>--verdicts hotpath</c>, run by bench/hotpath/run.sh): the relay's CPU per request against the bare
/// proxy's, measured in the same closed-loop rounds, non-streaming and streaming, for this build and the base build. Relays are
/// named <c>embedded</c> and <c>cluster</c> (a name starting so), their base builds <c>NAME-base</c>; the bare proxy is the
/// closed-loop target "bare proxy". With <c>--proxies</c>, "bare proxy ×N" is the same proxy as N processes, requests to them in
/// turn as to a cluster's silos: the control for the cluster's topology (N processes sharing the cores wake and switch more per
/// request than one), reported beside the cluster (no target). A server's figures are its own process's (a cluster's, or the
/// bare proxy ×N's: its processes added up).
/// <code>
///  summary: figure | target | base | new | verdict      then a closed-loop table with every target's
///  ratio = silo µs/req ÷ bare proxy µs/req (same mode)  server, ratio, redis-server, allocation and noise figures
/// </code>
/// </summary>
internal static class HotpathVerdicts
{
    public const string Name = "hotpath";

    private const string RedisProcess = "redis-server";
    private const double EmbeddedRatioTarget = 1.25;
    private const double ClusterRatioTarget = 1.4;
    private const double RedisMicrosTarget = 20;
    private const double AddedP99TargetMs = 1.0;
    private const double NoiseMarginMs = 0.5;

    public static void Write(StringBuilder md, BenchSettings settings, IReadOnlyList<string> names, BenchRun run, List<PhaseResult> fixedRate, List<PhaseResult> closed)
    {
        var figures = new Figures(settings, names, run.ScrapeCost);
        var control = settings.ProxyUrls.Count > 0
            ? $" *{Report.Proxies(settings)}* = the same proxy as {Count(settings.ProxyUrls.Count)} processes, requests to them in turn as to a "
                + "cluster's silos, their CPU added up: the control for the cluster's topology (more processes sharing the cores wake and "
                + "switch more per request), so cluster ÷ it is what the relay costs beyond the topology (no target)."
            : "";
        var rows = SummaryRows(settings, figures, fixedRate, closed).ToList();
        md.AppendLine("## Summary (issue 16)").AppendLine();
        md.AppendLine("| figure | target | base | new | verdict |").AppendLine("| --- | --- | ---: | ---: | --- |");
        rows.ForEach(row => md.AppendLine(row));
        md.AppendLine();
        md.AppendLine($"*Base* = the base build (BASE_REV), *new* = this checkout, in the same run and the same alternating rounds. CPU per request = "
            + "the server process's user + system CPU over the measured windows (/proc) ÷ requests completed, closed loop at "
            + $"c={settings.Concurrency} through MockUpstream; a cluster's silo figure adds up its silos. × = ÷ the bare proxy's CPU per request "
            + $"in the same mode and run.{control} Bytes allocated = the server's `dotnet.gc.heap.total_allocated` (GC.GetTotalAllocatedBytes) read "
            + "from its /metrics before and after each window, less one scrape's own allocations, ÷ requests: unlike CPU time it does not "
            + "depend on the machine's load. At c=20 the bare proxy serves more requests per second than a relay, and a busier server spends "
            + $"less per request (fewer idle wake-ups), so the rows at {settings.Rate} req/s give both at the same rate (no target). A p99 "
            + $"where the relay beats direct by more than {NoiseMarginMs} ms is not judged: the relay's path includes direct's, so one of the "
            + "two was disturbed. Verdicts judge the new build; they are single measurements on a shared machine: read them beside the "
            + "*other* column (noise) below.").AppendLine();
        WriteClosedTable(md, settings, figures, closed);
        if (settings.Summary is { } summary)
        {
            File.AppendAllLines(summary, rows);
        }
    }

    private static IEnumerable<string> SummaryRows(BenchSettings settings, Figures f, List<PhaseResult> fixedRate, List<PhaseResult> closed)
    {
        var how = $"c={settings.Concurrency}";
        foreach (var mode in closed.GroupBy(Mode))
        {
            var proxy = mode.FirstOrDefault(r => Report.IsBareProxy(r.Target));
            if (proxy is not null)
            {
                yield return $"| bare proxy CPU per request (the control), {mode.Key}, {how} | – | | {Us(f.ServerMicros(proxy))}, {Bytes(f.Allocated(proxy))} | – |";
            }

            var proxies = settings.ProxyUrls.Count > 0 ? mode.FirstOrDefault(r => r.Target.StartsWith(Report.Proxies(settings), StringComparison.Ordinal)) : null;
            if (proxies is not null)
            {
                yield return $"| {Report.Proxies(settings)} CPU per request ({Count(settings.ProxyUrls.Count)} processes, in turn; the control for the cluster's topology), "
                    + $"{mode.Key}, {how} | – | | {Us(f.ServerMicros(proxies))}, {Bytes(f.Allocated(proxies))}"
                    + $"{(f.Ratio(proxies, proxy) is { } p ? $" ({p:0.00} × bare proxy)" : "")} | – |";
            }

            foreach (var (r, old) in Report.BasePairs(settings, [.. mode]))
            {
                var kind = Kind(settings, r.Target);
                var cluster = kind != "embedded";
                var target = cluster ? ClusterRatioTarget : EmbeddedRatioTarget;
                var ratio = f.Ratio(r, proxy);
                yield return $"| silo CPU per request, {kind}, {mode.Key}, {how} | ≤ {target:0.00} × bare proxy | {CpuAndRatio(f, old, proxy)} | "
                    + $"{CpuAndRatio(f, r, proxy)} | {(ratio is { } x ? Report.Verdict(x <= target) : "–")} |";
                if (cluster && proxies is not null)
                {
                    yield return $"| silo CPU per request, {kind} ÷ {Report.Proxies(settings)}, {mode.Key}, {how} | – | {CpuAndRatio(f, old, proxies)} | "
                        + $"{CpuAndRatio(f, r, proxies)} | – |";
                }

                if (cluster)
                {
                    var redis = f.Micros(r, RedisProcess);
                    yield return $"| redis-server CPU per request, {kind}, {mode.Key}, {how} | ≤ {RedisMicrosTarget:0} µs | {Us(old is null ? null : f.Micros(old, RedisProcess))} | "
                        + $"{Us(redis)} | {(redis is { } m ? Report.Verdict(m <= RedisMicrosTarget) : "–")} |";
                }

                var (newBytes, oldBytes) = (f.Allocated(r), old is null ? null : f.Allocated(old));
                yield return $"| bytes allocated per request, {kind}, {mode.Key}, {how} | report; ≤ base | {Bytes(oldBytes)} | {Bytes(newBytes)} | "
                    + $"{AllocVerdict(newBytes, oldBytes)} |";
                yield return $"| throughput, {kind}, {mode.Key}, {how} (no target) | – | {(old is null ? "–" : $"{old.Throughput:0} req/s")} | {r.Throughput:0} req/s | – |";
            }
        }

        foreach (var mode in fixedRate.GroupBy(r => r.Phase))
        {
            var direct = mode.FirstOrDefault(r => r.Target == Report.Direct);
            if (direct?.Total is null)
            {
                continue;
            }

            var openProxy = mode.FirstOrDefault(r => r.Target == Report.BareProxy);
            foreach (var (r, old) in Report.BasePairs(settings, [.. mode]))
            {
                yield return $"| silo CPU per request, {Kind(settings, r.Target)}, {mode.Key}, {settings.Rate} req/s open loop (the bare proxy at the same rate; no target) | – | "
                    + $"{CpuAndRatio(f, old, openProxy)} | {CpuAndRatio(f, r, openProxy)} (bare proxy {Us(openProxy is null ? null : f.ServerMicros(openProxy))}) | – |";
            }

            foreach (var (r, old) in Report.BasePairs(settings, [.. mode]).Where(p => p.New.Total is not null))
            {
                var kind = Kind(settings, r.Target);
                var added = r.Total!.P99Ms - direct.Total.P99Ms;
                var oldAdded = old?.Total is { } o ? o.P99Ms - direct.Total.P99Ms : (double?)null;
                var judged = kind == "embedded";
                yield return $"| p99 added latency (relay − direct), {kind}, {mode.Key}, {settings.Rate} req/s open loop | {(judged ? $"≤ {AddedP99TargetMs:0} ms" : "–")} | "
                    + $"{(oldAdded is { } a ? $"{a:0.000} ms" : "–")} | {added:0.000} ms (by round: {Report.ByRound(direct, r, l => l.P99Ms)}) | "
                    + $"{(judged ? LatencyVerdict(added, AddedP99TargetMs) : "–")} |";
                var p50 = r.Total.P50Ms - direct.Total.P50Ms;
                var oldP50 = old?.Total is { } o50 ? o50.P50Ms - direct.Total.P50Ms : (double?)null;
                yield return $"| p50 added latency (relay − direct), {kind}, {mode.Key}, {settings.Rate} req/s open loop (no target) | – | "
                    + $"{(oldP50 is { } b ? $"{b:0.000} ms" : "–")} | {p50:0.000} ms | – |";
            }
        }

        foreach (var (label, results) in new[] { ("closed loop", closed), ("open loop", fixedRate) }.Where(p => p.Item2.Count > 0))
        {
            var shares = results.Select(f.OtherPercent).ToList();
            yield return $"| other processes' CPU during the {label}'s windows (machine noise) | – | | {shares.Min():0}–{shares.Max():0} % of a core, "
                + $"mean {shares.Average():0} % | – |";
        }
    }

    /// <summary>Every closed-loop target: its server's CPU and allocations per request, the ratio to the bare proxy, and the noise.</summary>
    private static void WriteClosedTable(StringBuilder md, BenchSettings settings, Figures f, List<PhaseResult> closed)
    {
        if (closed.Count == 0)
        {
            return;
        }

        md.AppendLine($"## CPU and allocations per request, closed loop at c={settings.Concurrency}").AppendLine();
        md.AppendLine($"Each target's own server (*server*), over {settings.ClosedRounds} alternating rounds sharing {settings.ClosedDuration.TotalSeconds:0.#} s "
            + $"per target after a {settings.ClosedWarmup.TotalSeconds:0.#} s warm-up each. *× proxy* = server µs/req ÷ the bare proxy's in the same mode. "
            + (settings.ProxyUrls.Count > 0 ? $"*{Report.Proxies(settings)}* = the bare proxy as {Count(settings.ProxyUrls.Count)} processes in turn (the cluster's topology, no relay). " : "")
            + "*Other* = every process not part of the run (and kernel time charged to none), in % of one core and µs per request: the machine's "
            + "noise during that target's windows; a target whose *other* is high was measured on a disturbed machine. "
            + "Subtracted from each window's allocations, per server: what one read of /metrics adds, measured idle after the load as the "
            + $"mean difference between reads 0.4 s apart (one scrape plus the idle server's own background work): {ScrapeCosts(f)}.").AppendLine();
        md.AppendLine("| mode | target | req/s | p50 ms | p99 ms | server | server µs/req | × proxy | redis-server µs/req | bytes allocated/req | other % | other µs/req |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var mode in closed.GroupBy(Mode))
        {
            var proxy = mode.FirstOrDefault(r => Report.IsBareProxy(r.Target));
            foreach (var r in mode)
            {
                var ratio = f.Ratio(r, proxy);
                md.AppendLine($"| {mode.Key} | {r.Target} | {r.Throughput:0} | {Ms(r.Total?.P50Ms)} | {Ms(r.Total?.P99Ms)} | {f.Server(r) ?? "–"} | {Num(f.ServerMicros(r))} | "
                    + $"{(ratio is { } x ? $"{x:0.00}" : "–")} | {Num(f.Micros(r, RedisProcess))} | {Num(f.Allocated(r))} | {f.OtherPercent(r):0} | {Num(f.OtherMicros(r))} |");
            }
        }

        md.AppendLine();
    }

    /// <summary>New against base: within 1 % is the same (the counter moves in steps of an allocation context).</summary>
    private static string AllocVerdict(double? newBytes, double? oldBytes) =>
        newBytes is not { } n || oldBytes is not { } o || o <= 0 ? "–"
        : Math.Abs(n - o) / o < 0.01 ? $"same ({(n - o) / o * 100:+0.0;-0.0;0.0} %)"
        : $"{(n < o ? "lower" : "**higher**")} ({(n - o) / o * 100:+0;-0;0} %)";

    /// <summary>
    /// The p99 verdict, unless the run was too noisy to judge it: a relay faster than direct by more than
    /// <see cref="NoiseMarginMs"/> (the relay's path includes direct's) only shows that one of the two was disturbed.
    /// </summary>
    private static string LatencyVerdict(double addedMs, double limitMs) =>
        addedMs < -NoiseMarginMs ? "not judged: noise (relay faster than direct)" : Report.Verdict(addedMs <= limitMs);

    private static string Mode(PhaseResult r) =>
        r.Target.EndsWith(BenchPlan.StreamingSuffix, StringComparison.Ordinal) ? "streaming" : "non-streaming";


    /// <summary>"embedded", or "cluster of N silos" (a relay whose name does not start with "embedded").</summary>
    private static string Kind(BenchSettings settings, string target)
    {
        var relay = Report.RelayOf(settings, target);
        if (relay.StartsWith($"{Report.Relay} (embedded", StringComparison.Ordinal))
        {
            return "embedded";
        }

        var silos = settings.Relays.First(r => r.Name == relay).Urls.Count;
        return $"cluster of {silos} silo{(silos == 1 ? "" : "s")}";
    }

    private static string CpuAndRatio(Figures f, PhaseResult? r, PhaseResult? proxy) =>
        r is null ? "–" : $"{Us(f.ServerMicros(r))}{(f.Ratio(r, proxy) is { } x ? $" ({x:0.00} ×)" : "")}";

    private static string ScrapeCosts(Figures f) =>
        f.ScrapeCost.Count == 0 ? "none measured" : string.Join(", ", f.ScrapeCost.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key} {c.Value / 1024.0:0} KiB"));

    /// <summary>A small count in words, as the report's prose has it ("three processes").</summary>
    private static string Count(int n) => n switch { 2 => "two", 3 => "three", 4 => "four", _ => n.ToString(System.Globalization.CultureInfo.InvariantCulture) };

    private static string Us(double? micros) => micros is { } m && !double.IsNaN(m) ? $"{m:0} µs" : "–";

    private static string Bytes(double? bytes) => bytes is { } b ? $"{b:0} B" : "n/a";

    private static string Num(double? value) => value is { } v && !double.IsNaN(v) ? $"{v:0}" : "–";

    private static string Ms(double? value) => value is { } v ? $"{v:0.000}" : "–";

    /// <summary>The per-request figures of one result, by process name.</summary>
    private sealed class Figures(BenchSettings settings, IReadOnlyList<string> names, IReadOnlyDictionary<string, long> scrapeCost)
    {
        public IReadOnlyDictionary<string, long> ScrapeCost => scrapeCost;

        /// <summary>The <c>--pids</c> name of the server a target measures: a relay's silos, the bare proxy (or proxies), or MockUpstream for direct.</summary>
        public string? Server(PhaseResult r) =>
            Report.IsRelay(r.Target) ? Report.SiloProcess(settings, r.Target)
            : Report.ProxyProcess(settings, r.Target) is { } proxy ? proxy
            : r.Target.StartsWith(Report.Direct, StringComparison.Ordinal) ? "upstream" : null;

        public double? ServerMicros(PhaseResult r) => Server(r) is { } process ? Micros(r, process) : null;

        public double? Micros(PhaseResult r, string process) =>
            Report.IndexOf(names, process) is var i and >= 0 && i < r.Cpu.Length ? r.CpuMicrosPerRequest(i) : null;

        public double? Ratio(PhaseResult r, PhaseResult? proxy) =>
            proxy is null || r == proxy ? null : ServerMicros(r) is { } micros && ServerMicros(proxy) is { } control and > 0 ? micros / control : null;

        public double? Allocated(PhaseResult r) => Server(r) is { } process ? r.AllocatedPerRequest(scrapeCost.GetValueOrDefault(process)) : null;

        public double OtherPercent(PhaseResult r) => r.Cpu.Length == names.Count ? r.CpuPercent(names.Count - 2) : double.NaN;

        public double? OtherMicros(PhaseResult r) => r.Cpu.Length == names.Count ? r.CpuMicrosPerRequest(names.Count - 2) : null;
    }
}
