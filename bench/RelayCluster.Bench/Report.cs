using System.Text;

namespace RelayCluster.Bench;

/// <summary>The markdown report of a run: verdicts against the targets first, then the figures behind them.</summary>
internal static class Report
{
    public const string Direct = "direct";
    public const string BareProxy = "bare proxy";
    public const string Relay = "relay";

    private const double AddedP50TargetMs = 0.5;
    private const double AddedP99TargetMs = 2.0;
    private const double ThroughputTarget = 5000;

    /// <summary>The Redis store's claim: one round trip per admission and one per settle.</summary>
    private const double RoundTripsPerRequestTarget = 2;

    /// <summary>The process (a <c>--pids</c> name) whose CPU the report charges to Redis itself.</summary>
    private const string RedisProcess = "redis-server";

    public static string Write(BenchSettings settings, IReadOnlyList<string> processNames, BenchRun run)
    {
        var (floor, results, traces) = (run.Floor, run.Phases, run.Traces);
        var md = new StringBuilder();
        md.AppendLine("# RelayCluster benchmark").AppendLine();
        md.AppendLine($"Run at {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC.").AppendLine();
        foreach (var line in MachineInfo.Describe().Concat(settings.Notes))
        {
            md.AppendLine($"- {line}");
        }

        md.AppendLine($"- Noise floor before the load, servers idle: a thread sleeping 1 ms wakes late by p50 {floor.Oversleep.P50Ms:0.000} ms, "
            + $"p99 {floor.Oversleep.P99Ms:0.000} ms, p99.9 {floor.Oversleep.P999Ms:0.000} ms, max {floor.Oversleep.MaxMs:0.000} ms; "
            + $"other processes used {floor.OtherCpuPercent:0} % of a core");
        md.AppendLine($"- Paused {run.Paused.TotalSeconds:0} s in all between rounds, waiting for other processes on the machine to quiet down "
            + "(before each round, other processes must use under a quarter of a core; at most 60 s per run)");
        md.AppendLine();
        if (floor.MachineBusy)
        {
            md.AppendLine("> **Warning:** other processes were busy when the run began (see the noise floor above): "
                + "the figures are disturbed; the *other* column of the CPU table shows how much during each phase.").AppendLine();
        }

        var servers = processNames.Where(n => n is not ("generator" or "other" or "softirq")).ToList();
        md.AppendLine($"The load generator and every server of the run ({string.Join(", ", servers)}) run on this one machine and share its cores: "
            + "every figure includes that contention (the CPU table shows each process's share).").AppendLine();

        var fixedRate = results.Where(r => r.Phase != "closed").ToList();
        var closed = results.Where(r => r.Phase == "closed").ToList();
        if (settings.Verdicts == OrleansVerdicts.Name)
        {
            OrleansVerdicts.Write(md, settings, processNames, fixedRate, closed);
        }
        else if (settings.Verdicts == HotpathVerdicts.Name)
        {
            HotpathVerdicts.Write(md, settings, processNames, run, fixedRate, closed);
        }
        else
        {
            WriteVerdicts(md, settings, fixedRate, closed, traces);
        }

        WriteFixedRate(md, settings, fixedRate);
        WriteClosed(md, settings, closed);
        WriteRedis(md, settings, results, traces, run.RedisPing);
        WriteCpu(md, processNames, results);
        WriteTimeSplit(md, settings, processNames, results);
        WriteThreads(md, processNames, results);
        WriteErrors(md, results);
        return md.ToString();
    }

    private static void WriteVerdicts(StringBuilder md, BenchSettings settings, List<PhaseResult> fixedRate, List<PhaseResult> closed, List<RedisTrace> traces)
    {
        var several = settings.Relays.Count > 1;
        md.AppendLine("## Targets").AppendLine();
        md.AppendLine("| target | measured | by round | verdict |").AppendLine("| --- | ---: | --- | --- |");
        foreach (var (phase, direct, relay) in Comparisons(fixedRate).Where(c => IsRelay(c.Other.Target)))
        {
            var which = several ? $", {relay.Target}" : "";
            var p50 = relay.Total!.P50Ms - direct.Total!.P50Ms;
            var p99 = relay.Total.P99Ms - direct.Total.P99Ms;
            md.AppendLine($"| added latency p50 ≤ {AddedP50TargetMs} ms, {phase}{which} | {p50:0.000} ms | {ByRound(direct, relay, l => l.P50Ms)} | {Verdict(p50 <= AddedP50TargetMs)} |");
            md.AppendLine($"| added latency p99 ≤ {AddedP99TargetMs} ms, {phase}{which} | {p99:0.000} ms | {ByRound(direct, relay, l => l.P99Ms)} | {Verdict(p99 <= AddedP99TargetMs)} |");
        }

        foreach (var (phase, first, other) in StoreComparisons(settings, fixedRate))
        {
            md.AppendLine($"| {other.Target} over {first.Target}, {phase}: p50 / p99 (no target) | {Delta(other.Total, first.Total, l => l.P50Ms)} / "
                + $"{Delta(other.Total, first.Total, l => l.P99Ms)} ms | p99: {ByRound(first, other, l => l.P99Ms)} | – |");
        }

        foreach (var simulator in closed.Where(r => r.Target.EndsWith("in-process simulator", StringComparison.Ordinal)))
        {
            md.AppendLine($"| ≥ {ThroughputTarget:0} req/s, {simulator.Target} | {simulator.Throughput:0} req/s | | {Verdict(simulator.Throughput >= ThroughputTarget)} |");
        }

        foreach (var r in fixedRate.Concat(closed).Where(r => r.Redis is { EvalSha: > 0 }))
        {
            var perRequest = (double)r.Redis!.EvalSha / r.Sent;
            md.AppendLine($"| ≤ {RoundTripsPerRequestTarget:0} Redis round trips (EVALSHA) per request, {r.Phase}, {r.Target} | {perRequest:0.000} | | "
                + $"{Verdict(perRequest <= RoundTripsPerRequestTarget)} |");
        }

        foreach (var trace in traces.Where(t => t.TotalRoundTrips > 0))
        {
            var exact = trace.Patterns.Count == 1 && trace.Patterns.GetValueOrDefault("admit + settle") == trace.Ok && trace.Ok == trace.Requests;
            md.AppendLine($"| each request exactly 1 admit + 1 settle, no quota read (MONITOR), {trace.Phase}, {trace.Target} | "
                + $"{Patterns(trace)} | | {Verdict(exact && trace.Complete)} |");
        }

        md.AppendLine();
        md.AppendLine("Added latency = relay − direct at the same percentile. *By round*: the same difference within each pair of "
            + "adjacent rounds, which shows how far a percentile moves between otherwise identical stretches of the run.").AppendLine();
    }

    private static void WriteFixedRate(StringBuilder md, BenchSettings settings, List<PhaseResult> fixedRate)
    {
        if (fixedRate.Count == 0)
        {
            return;
        }

        md.AppendLine($"## (a) Relay vs direct, open loop at {settings.Rate} req/s").AppendLine();
        var targets = fixedRate.Select(r => r.Target).Distinct().Count();
        md.AppendLine($"Requests leave on a fixed schedule whatever the responses do, {settings.Duration.TotalSeconds:0.#} s per target after a "
            + $"{settings.Warmup.TotalSeconds:0.#} s warm-up, in {settings.Rounds} rounds whose order flips each time ({Order(targets)}) so that drift "
            + "over the run weighs on all targets alike. *direct* = MockUpstream itself; *relay* = silo → `openai` provider → the same MockUpstream"
            + (settings.Relays.Count > 1 ? $" ({string.Join(", ", settings.Relays.Select(r => r.Name))}: the same silo and configuration but for the store)" : "")
            + "; "
            + (settings.ProxyUrl is null ? "" : "*bare proxy* = a pass-through proxy (bench/RelayCluster.Bench.Proxy) in front of the same MockUpstream: the cost of the extra hop alone. ")
            + "Latency runs from handing the request to the socket handler to the last byte of the response; "
            + "*first data* is the first `data:` of a stream; *send lag* is how late the generator sent requests against "
            + "their schedule (small = the generator kept up). Times in ms.").AppendLine();
        md.AppendLine("| mode | target | req/s | ok | errors | p50 | p90 | p99 | p99.9 | max | first data p50 | first data p99 | send lag p99 |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in fixedRate)
        {
            md.AppendLine($"| {r.Phase} | {r.Target} | {r.Throughput:0.0} | {r.Ok} | {r.ErrorCount} | {Ms(r.Total?.P50Ms)} | {Ms(r.Total?.P90Ms)} | "
                + $"{Ms(r.Total?.P99Ms)} | {Ms(r.Total?.P999Ms)} | {Ms(r.Total?.MaxMs)} | {Ms(r.FirstData?.P50Ms)} | {Ms(r.FirstData?.P99Ms)} | {Ms(r.SendLag?.P99Ms)} |");
        }

        md.AppendLine().AppendLine("Latency added over direct (ms):").AppendLine();
        md.AppendLine("| mode | target | measure | p50 | p90 | p99 |").AppendLine("| --- | --- | --- | ---: | ---: | ---: |");
        foreach (var (phase, direct, other) in Comparisons(fixedRate))
        {
            md.AppendLine($"| {phase} | {other.Target} | whole response | {Deltas(other.Total, direct.Total)} |");
            if (other.FirstData is not null)
            {
                md.AppendLine($"| {phase} | {other.Target} | first data | {Deltas(other.FirstData, direct.FirstData)} |");
            }
        }

        md.AppendLine();
        var stores = StoreComparisons(settings, fixedRate).ToList();
        if (stores.Count == 0)
        {
            return;
        }

        md.AppendLine($"Latency added by one relay over {stores[0].First.Target} (ms), overall and round by round:").AppendLine();
        md.AppendLine("| mode | target | measure | p50 | p90 | p99 | p50 by round | p99 by round |").AppendLine("| --- | --- | --- | ---: | ---: | ---: | --- | --- |");
        foreach (var (phase, first, other) in stores)
        {
            md.AppendLine($"| {phase} | {other.Target} | whole response | {Deltas(other.Total, first.Total)} | {ByRound(first, other, l => l.P50Ms)} | {ByRound(first, other, l => l.P99Ms)} |");
            if (other.FirstData is not null)
            {
                md.AppendLine($"| {phase} | {other.Target} | first data | {Deltas(other.FirstData, first.FirstData)} | | |");
            }
        }

        md.AppendLine();
    }

    private static void WriteClosed(StringBuilder md, BenchSettings settings, List<PhaseResult> closed)
    {
        if (closed.Count == 0)
        {
            return;
        }

        md.AppendLine($"## (b) Throughput, closed loop at concurrency {settings.Concurrency}").AppendLine();
        md.AppendLine($"{settings.Concurrency} workers each send their next {(settings.ClosedStreaming ? "request (non-streaming, and streaming for the targets named so)" : "non-streaming request")} as soon as the last is answered, "
            + $"{settings.ClosedDuration.TotalSeconds:0.#} s after a {settings.ClosedWarmup.TotalSeconds:0.#} s warm-up at the same concurrency. "
            + (settings.ClosedRounds > 1 ? $"Every target warmed up first, then {settings.ClosedRounds} rounds in alternating order share the measured time. " : "")
            + (settings.ClosedModel is { } model && model != settings.SimulatorModel
                ? $"Each relay serves model `{model}` through the upstream, as in the fixed-rate phase. "
                : settings.Relays.Count > 1
                ? "Each relay serves the model of its in-process simulator (no upstream): admission, settle and the store are all that differ. "
                : "The first row is the target; the others show what MockUpstream alone and the relay in front of it reach with the same generator. ")
            + "Times in ms.").AppendLine();
        md.AppendLine("| target | req/s | ok | errors | p50 | p90 | p99 | max |").AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in closed)
        {
            md.AppendLine($"| {r.Target} | {r.Throughput:0} | {r.Ok} | {r.ErrorCount} | {Ms(r.Total?.P50Ms)} | {Ms(r.Total?.P90Ms)} | {Ms(r.Total?.P99Ms)} | {Ms(r.Total?.MaxMs)} |");
        }

        md.AppendLine();
    }

    private static void WriteRedis(StringBuilder md, BenchSettings settings, List<PhaseResult> results, List<RedisTrace> traces, Latency? ping)
    {
        if (settings.Redis is null)
        {
            return;
        }

        md.AppendLine("## Redis: round trips and time per request").AppendLine();
        md.AppendLine($"Redis ({settings.Redis}) counters over the same measured windows (CONFIG RESETSTAT before each window, INFO after it), per "
            + "request sent. *EVALSHA* = script calls, each one round trip. *Other top-level* = commands no store script runs "
            + "(PING, SCRIPT LOAD, …), hence round trips too; reads the scripts also run (HGET, HGETALL) are told apart only by the trace below. "
            + "*total_commands_processed* counts every command a script runs inside Redis as well (and the benchmark's own INFO after "
            + "each reset: one a window). "
            + "*In Redis* = Redis's own time executing the scripts (commandstats usec, no network), per request; the p99 is Redis's per-call "
            + "histogram (latencystats), worst round. *AOF bytes* = growth of the append-only file (what the scripts wrote, as commands), unknown "
            + "across a rewrite (Redis rewrites the file in a forked child once it doubles past 64 MB). The non-Redis targets are the control: they should show nothing.").AppendLine();
        if (ping is not null)
        {
            md.AppendLine($"The floor under a round trip on this machine: a PING from the generator (blocking socket, servers idle, before the load) "
                + $"takes p50 {ping.P50Ms * 1000:0} µs, p90 {ping.P90Ms * 1000:0} µs, p99 {ping.P99Ms * 1000:0} µs, p99.9 {ping.P999Ms * 1000:0} µs "
                + $"({ping.Count} in a row).").AppendLine();
        }

        md.AppendLine("| phase | target | requests | EVALSHA/req | other top-level/req | total_commands_processed/req | in Redis µs/req | EVALSHA µs/call | EVALSHA p99 µs (worst round) | bytes in/req | bytes out/req | AOF bytes/req | AOF rewrites | error replies |");
        md.AppendLine("| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in results.Where(r => r.Redis is not null))
        {
            var redis = r.Redis!;
            var n = Math.Max(1, r.Sent);
            var others = redis.OtherTopLevel.Where(c => c.Value.Calls > 0).ToList();
            var other = others.Count == 0 ? "0" : string.Join(", ", others.Select(c => $"{c.Key} {(double)c.Value.Calls / n:0.####}"));
            var worstP99 = r.RedisRounds?.Where(l => l is not null).Select(l => l!.Value.P99).DefaultIfEmpty().Max() ?? 0;
            md.AppendLine($"| {r.Phase} | {r.Target} | {r.Sent} | {(double)redis.EvalSha / n:0.000} | {other} | {(double)redis.TotalCommandsProcessed / n:0.0} | "
                + $"{(double)redis.EvalShaUsec / n:0.0} | {(redis.EvalSha > 0 ? $"{(double)redis.EvalShaUsec / redis.EvalSha:0.0}" : "–")} | "
                + $"{(worstP99 > 0 ? $"{worstP99:0}" : "–")} | {(double)redis.NetInBytes / n:0} | {(double)redis.NetOutBytes / n:0} | "
                + $"{(redis.AofRewrites > 0 ? "–" : $"{(double)redis.AofBytes / n:0}")} | {redis.AofRewrites} | {redis.ErrorReplies} |");
        }

        md.AppendLine();
        if (traces.Count == 0)
        {
            return;
        }

        md.AppendLine($"### Trace: every command each relay sent ({settings.TraceDuration.TotalSeconds:0.#} s at {settings.Rate} req/s under MONITOR, after the measured phases)").AppendLine();
        md.AppendLine("Commands from the relay's connection are its round trips; commands that show client *lua* ran inside a script. Script calls are "
            + "named by the SHA-1 of the store's scripts; each admit, settle and renew carries the request id, which ties it to its request. "
            + "*Per request* groups the requests by the turns they cost; commands without a request id (the tenant-key cache refreshing, "
            + "pings) are in the round-trip column but belong to no request.").AppendLine();
        md.AppendLine("| phase | target | requests ok | round trips | round trips/req | by command | per request | commands inside scripts/req | complete |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: | --- | --- | ---: | --- |");
        foreach (var t in traces)
        {
            var n = Math.Max(1, t.Ok);
            var commands = t.RoundTrips.Count == 0 ? "none" : string.Join(", ", t.RoundTrips.OrderByDescending(c => c.Value).Select(c => $"{c.Key} × {c.Value}"));
            md.AppendLine($"| {t.Phase} | {t.Target} | {t.Ok} of {t.Requests} | {t.TotalRoundTrips} | {(double)t.TotalRoundTrips / n:0.000} | {commands} | "
                + $"{Patterns(t)} | {(double)t.InsideScripts / n:0.0} | {(t.Complete ? "yes" : "**no** (the monitor timed out)")} |");
        }

        md.AppendLine();
    }

    private static void WriteCpu(StringBuilder md, IReadOnlyList<string> names, IReadOnlyList<PhaseResult> results)
    {
        md.AppendLine("## CPU by process").AppendLine();
        md.AppendLine("User + system CPU of each process over the measured windows: percent of one core (the machine has "
            + $"{Environment.ProcessorCount * 100} %) and microseconds per completed request. *softirq* is the kernel's interrupt work, mostly the "
            + "loopback networking between the processes (charged to no process, though the part done while one of them ran may be charged to it too); "
            + "*other* is the rest of the machine's busy time: every other process, so a large *other* means the run was disturbed.").AppendLine();
        md.AppendLine($"| phase | target | {string.Join(" | ", names.Select(n => $"{n} %"))} | {string.Join(" | ", names.Select(n => $"{n} µs/req"))} |");
        md.AppendLine($"| --- | --- |{string.Concat(Enumerable.Repeat(" ---: |", names.Count * 2))}");
        foreach (var r in results)
        {
            var shares = Enumerable.Range(0, r.Cpu.Length).Select(i => $"{r.CpuPercent(i):0}");
            var perRequest = Enumerable.Range(0, r.Cpu.Length).Select(i => $"{r.CpuMicrosPerRequest(i):0}");
            md.AppendLine($"| {r.Phase} | {r.Target} | {string.Join(" | ", shares)} | {string.Join(" | ", perRequest)} |");
        }

        md.AppendLine();
    }

    /// <summary>
    /// With several relays: each relay's own process (named <c>silo-NAME</c> in <c>--pids</c> for relay "NAME"),
    /// Redis, the kernel's interrupt work and other processes, per request, and the run's CPU per request
    /// (every process of the run and softirq, not other processes) against the first relay's: where a
    /// store's extra time goes.
    /// </summary>
    private static void WriteTimeSplit(StringBuilder md, BenchSettings settings, IReadOnlyList<string> names, IReadOnlyList<PhaseResult> results)
    {
        if (settings.Relays.Count < 2)
        {
            return;
        }

        var redisIndex = IndexOf(names, RedisProcess);
        var otherIndex = names.Count - 2;
        var firstRelay = settings.Relays[0].Name;
        md.AppendLine("## Where the time goes").AppendLine();
        md.AppendLine("CPU per request, µs: each relay's silo, Redis (*in Redis*: the part spent executing the scripts, from commandstats), "
            + "the kernel's interrupt work (loopback networking), other processes (not part of the run: disturbance), and the run's total "
            + $"(generator, every server, softirq; other processes left out), with its extra over {firstRelay} in the same phase.").AppendLine();
        md.AppendLine($"| phase | target | silo | redis-server | in Redis | softirq | other | run total | extra over {firstRelay} |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in results.Where(r => IsRelay(r.Target)))
        {
            var silo = IndexOf(names, SiloProcess(settings, r.Target));
            var first = results.FirstOrDefault(f => f.Phase == r.Phase && f.Target == RelayTarget(settings, r, firstRelay));
            double Run(PhaseResult p) => Enumerable.Range(0, p.Cpu.Length).Where(i => i != otherIndex).Sum(p.CpuMicrosPerRequest);
            var inRedis = r.Redis is { } redis && r.Sent > 0 ? $"{(double)redis.EvalShaUsec / r.Sent:0}" : "–";
            md.AppendLine($"| {r.Phase} | {r.Target} | {Micros(r, silo)} | {Micros(r, redisIndex)} | {inRedis} | {Micros(r, names.Count - 1)} | {Micros(r, otherIndex)} | {Run(r):0} | "
                + $"{(first is null || first == r ? "–" : $"{Run(r) - Run(first):+0;-0;0}")} |");
        }

        md.AppendLine();
    }

    /// <summary>Each process's CPU by thread name, and the busiest other processes, per phase: µs per request.</summary>
    private static void WriteThreads(StringBuilder md, IReadOnlyList<string> names, IReadOnlyList<PhaseResult> results)
    {
        if (results.All(r => r.Detail is null || r.Detail.Count == 0))
        {
            return;
        }

        md.AppendLine("## CPU by thread").AppendLine();
        md.AppendLine("Each process's CPU over the measured windows by thread name (/proc/PID/task; .NET names its threads, Linux keeps 15 characters), "
            + "and the busiest *other* processes (kernel threads included, e.g. the flushers writing Redis's append-only file), in µs per request; "
            + "processes under 10 µs/req and threads under 3 µs/req left out. /proc counts in 10 ms ticks.").AppendLine();
        foreach (var r in results.Where(r => r.Detail is { Count: > 0 } && r.Sent > 0))
        {
            var groups = r.Detail!
                .Select(d => (Group: d.Key[..d.Key.IndexOf(": ", StringComparison.Ordinal)], Thread: d.Key[(d.Key.IndexOf(": ", StringComparison.Ordinal) + 2)..], Micros: d.Value.TotalMicroseconds / r.Sent))
                .GroupBy(d => d.Group)
                .Where(g => g.Sum(d => d.Micros) >= 10)
                .OrderBy(g => names.Contains(g.Key) ? IndexOf(names, g.Key) : names.Count);
            var text = groups.Select(g => $"**{g.Key}** {g.Sum(d => d.Micros):0} ({string.Join(", ", g.Where(d => d.Micros >= 3).OrderByDescending(d => d.Micros).Take(5).Select(d => $"{d.Thread} {d.Micros:0}"))})");
            md.AppendLine($"- {r.Phase}, {r.Target}: {string.Join("; ", text)}");
        }

        md.AppendLine();
    }

    private static void WriteErrors(StringBuilder md, IReadOnlyList<PhaseResult> results)
    {
        var failed = results.Where(r => r.ErrorCount > 0).ToList();
        md.AppendLine("## Errors").AppendLine();
        if (failed.Count == 0)
        {
            md.AppendLine("None.").AppendLine();
            return;
        }

        foreach (var r in failed)
        {
            md.AppendLine($"- {r.Phase}, {r.Target}: {string.Join(", ", r.Errors.Select(e => $"{e.Key} × {e.Value}"))}");
        }

        md.AppendLine();
    }

    internal static bool IsRelay(string target) => target.StartsWith(Relay, StringComparison.Ordinal);

    /// <summary>The closed-loop target of the bare proxy run as several processes (<c>--proxies</c>): "bare proxy ×3" for three.</summary>
    internal static string Proxies(BenchSettings settings) => $"{BareProxy} ×{settings.ProxyUrls.Count}";

    /// <summary>Whether a target is the one-process bare proxy (either mode): "bare proxy ×N" starts the same but is not.</summary>
    internal static bool IsBareProxy(string target) => target is BareProxy || target == BareProxy + BenchPlan.StreamingSuffix;

    /// <summary>
    /// The <c>--pids</c> (and <c>--alloc</c>) name of the server of a bare-proxy target: "proxy" for the bare proxy, "proxyN" for
    /// the bare proxy ×N (its N processes under one name, added up as a cluster's silos are), null for any other target.
    /// </summary>
    internal static string? ProxyProcess(BenchSettings settings, string target) =>
        settings.ProxyUrls.Count > 0 && target.StartsWith(Proxies(settings), StringComparison.Ordinal) ? $"proxy{settings.ProxyUrls.Count}"
        : target.StartsWith(BareProxy, StringComparison.Ordinal) ? "proxy" : null;

    /// <summary>The target of the same kind as <paramref name="r"/> (fixed-rate, simulator, through the upstream) for another relay.</summary>
    internal static string RelayTarget(BenchSettings settings, PhaseResult r, string relay) =>
        relay + r.Target[RelayOf(settings, r.Target).Length..];

    /// <summary>
    /// Each new build's result with its base build's result of the same kind (null when the run had none): a relay named
    /// "relay (NAME)" pairs with "relay (NAME-base)", as the scripts that run a base build name them.
    /// </summary>
    internal static IEnumerable<(PhaseResult New, PhaseResult? Old)> BasePairs(BenchSettings settings, List<PhaseResult> results) =>
        from r in results
        where IsRelay(r.Target)
        let relay = RelayOf(settings, r.Target)
        where !relay.EndsWith(BaseSuffix + ")", StringComparison.Ordinal)
        let oldTarget = RelayTarget(settings, r, relay.TrimEnd(')') + BaseSuffix + ")")
        select (r, results.FirstOrDefault(o => o.Target == oldTarget));

    /// <summary>What a base build's relay name ends with, inside its parentheses.</summary>
    internal const string BaseSuffix = "-base";

    /// <summary>The relay a target belongs to: "relay (redis), in-process simulator" → "relay (redis)".</summary>
    internal static string RelayOf(BenchSettings settings, string target) =>
        settings.Relays.Select(r => r.Name).Where(n => target.StartsWith(n, StringComparison.Ordinal)).MaxBy(n => n.Length) ?? target;

    /// <summary>"relay (redis)" and "relay (redis), in-process simulator" → the <c>--pids</c> name "silo-redis".</summary>
    internal static string SiloProcess(BenchSettings settings, string target)
    {
        var relay = RelayOf(settings, target);
        var open = relay.IndexOf('(');
        return open < 0 ? relay : "silo-" + relay[(open + 1)..].TrimEnd(')');
    }

    internal static int IndexOf(IReadOnlyList<string> names, string name)
    {
        for (var i = 0; i < names.Count; i++)
        {
            if (names[i] == name)
            {
                return i;
            }
        }

        return -1;
    }

    private static string Micros(PhaseResult r, int process) =>
        process >= 0 && process < r.Cpu.Length ? $"{r.CpuMicrosPerRequest(process):0}" : "–";

    private static string Patterns(RedisTrace t)
    {
        var patterns = t.Patterns.OrderByDescending(p => p.Value).Select(p => $"{p.Key}: {p.Value}").ToList();
        var unseen = t.Ok - t.RequestsSeen;
        if (unseen > 0)
        {
            patterns.Add($"no turn seen: {unseen}");
        }

        return patterns.Count == 0 ? "none" : string.Join("; ", patterns);
    }

    private static string Order(int targets)
    {
        var letters = Enumerable.Range(0, targets).Select(i => (char)('A' + i)).ToArray();
        return $"{string.Join(' ', letters)}, {string.Join(' ', letters.Reverse())}, …";
    }

    /// <summary>Each open-loop target other than direct, with the direct result of the same mode to compare it to.</summary>
    internal static IEnumerable<(string Phase, PhaseResult Direct, PhaseResult Other)> Comparisons(List<PhaseResult> fixedRate) =>
        from mode in fixedRate.GroupBy(r => r.Phase)
        let direct = mode.Single(r => r.Target == Direct)
        from other in mode
        where other != direct && direct.Total is not null && other.Total is not null
        select (mode.Key, direct, other);

    /// <summary>With several relays: each relay after the first, with the first relay in the same mode to compare it to.</summary>
    private static IEnumerable<(string Phase, PhaseResult First, PhaseResult Other)> StoreComparisons(BenchSettings settings, List<PhaseResult> fixedRate) =>
        settings.Relays.Count < 2 ? [] :
        from mode in fixedRate.GroupBy(r => r.Phase)
        let first = mode.Single(r => r.Target == settings.Relays[0].Name)
        from other in mode
        where other != first && IsRelay(other.Target) && first.Total is not null && other.Total is not null
        select (mode.Key, first, other);

    /// <summary>Other − direct for each round, rounds matched by index (they ran next to each other).</summary>
    internal static string ByRound(PhaseResult direct, PhaseResult other, Func<Latency, double> pick) =>
        string.Join(", ", direct.Rounds.Zip(other.Rounds, (d, o) => Delta(o, d, pick)));

    private static string Deltas(Latency? other, Latency? direct) =>
        $"{Delta(other, direct, l => l.P50Ms)} | {Delta(other, direct, l => l.P90Ms)} | {Delta(other, direct, l => l.P99Ms)}";

    private static string Delta(Latency? other, Latency? direct, Func<Latency, double> pick) =>
        other is null || direct is null ? "–" : $"{pick(other) - pick(direct):+0.000;-0.000;0.000}";

    private static string Ms(double? value) => value is { } v ? $"{v:0.000}" : "–";

    internal static string Verdict(bool met) => met ? "met" : "**missed**";
}
