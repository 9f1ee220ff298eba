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

    public static string Write(BenchSettings settings, IReadOnlyList<string> processNames, NoiseFloor floor, IReadOnlyList<PhaseResult> results)
    {
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
        md.AppendLine();
        if (floor.MachineBusy)
        {
            md.AppendLine("> **Warning:** other processes were busy when the run began (see the noise floor above): "
                + "the figures are disturbed; the *other* column of the CPU table shows how much during each phase.").AppendLine();
        }

        md.AppendLine("The load generator, the relay silo, the bare proxy and MockUpstream all run on this one machine and share its cores: "
            + "every figure includes that contention (the CPU table shows each process's share).").AppendLine();

        var fixedRate = results.Where(r => r.Phase != "closed").ToList();
        var closed = results.Where(r => r.Phase == "closed").ToList();
        WriteVerdicts(md, fixedRate, closed);
        WriteFixedRate(md, settings, fixedRate);
        WriteClosed(md, settings, closed);
        WriteCpu(md, processNames, results);
        WriteErrors(md, results);
        return md.ToString();
    }

    private static void WriteVerdicts(StringBuilder md, List<PhaseResult> fixedRate, List<PhaseResult> closed)
    {
        md.AppendLine("## Targets").AppendLine();
        md.AppendLine("| target | measured | by round | verdict |").AppendLine("| --- | ---: | --- | --- |");
        foreach (var (phase, direct, relay) in Comparisons(fixedRate).Where(c => c.Other.Target == Relay))
        {
            var p50 = relay.Total!.P50Ms - direct.Total!.P50Ms;
            var p99 = relay.Total.P99Ms - direct.Total.P99Ms;
            md.AppendLine($"| added latency p50 ≤ {AddedP50TargetMs} ms, {phase} | {p50:0.000} ms | {ByRound(direct, relay, l => l.P50Ms)} | {Verdict(p50 <= AddedP50TargetMs)} |");
            md.AppendLine($"| added latency p99 ≤ {AddedP99TargetMs} ms, {phase} | {p99:0.000} ms | {ByRound(direct, relay, l => l.P99Ms)} | {Verdict(p99 <= AddedP99TargetMs)} |");
        }

        if (closed.FirstOrDefault() is { } simulator)
        {
            md.AppendLine($"| ≥ {ThroughputTarget:0} req/s, {simulator.Target} | {simulator.Throughput:0} req/s | | {Verdict(simulator.Throughput >= ThroughputTarget)} |");
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
        md.AppendLine($"Requests leave on a fixed schedule whatever the responses do, {settings.Duration.TotalSeconds:0.#} s per target after a "
            + $"{settings.Warmup.TotalSeconds:0.#} s warm-up, in {settings.Rounds} rounds whose order flips each time (A B C, C B A, …) so that drift "
            + "over the run weighs on all targets alike. *direct* = MockUpstream itself; *relay* = silo → `openai` provider → the same MockUpstream; "
            + "*bare proxy* = a pass-through proxy (bench/RelayCluster.Bench.Proxy) in front of the same MockUpstream: the cost of the extra hop alone. "
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
    }

    private static void WriteClosed(StringBuilder md, BenchSettings settings, List<PhaseResult> closed)
    {
        if (closed.Count == 0)
        {
            return;
        }

        md.AppendLine($"## (b) Throughput, closed loop at concurrency {settings.Concurrency}").AppendLine();
        md.AppendLine($"{settings.Concurrency} workers each send their next non-streaming request as soon as the last is answered, "
            + $"{settings.ClosedDuration.TotalSeconds:0.#} s after a {settings.ClosedWarmup.TotalSeconds:0.#} s warm-up at the same concurrency. The first row is the target; "
            + "the others show what MockUpstream alone and the relay in front of it reach with the same generator. Times in ms.").AppendLine();
        md.AppendLine("| target | req/s | ok | errors | p50 | p90 | p99 | max |").AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in closed)
        {
            md.AppendLine($"| {r.Target} | {r.Throughput:0} | {r.Ok} | {r.ErrorCount} | {Ms(r.Total?.P50Ms)} | {Ms(r.Total?.P90Ms)} | {Ms(r.Total?.P99Ms)} | {Ms(r.Total?.MaxMs)} |");
        }

        md.AppendLine();
    }

    private static void WriteCpu(StringBuilder md, IReadOnlyList<string> names, IReadOnlyList<PhaseResult> results)
    {
        md.AppendLine("## CPU by process").AppendLine();
        md.AppendLine("User + system CPU of each process over the measured windows: percent of one core (the machine has "
            + $"{Environment.ProcessorCount * 100} %) and microseconds per completed request. *other* is the rest of the machine's busy time: "
            + "mostly the kernel's loopback networking (softirq time, charged to no process), plus any other process.").AppendLine();
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

    /// <summary>Each open-loop target other than direct, with the direct result of the same mode to compare it to.</summary>
    private static IEnumerable<(string Phase, PhaseResult Direct, PhaseResult Other)> Comparisons(List<PhaseResult> fixedRate) =>
        from mode in fixedRate.GroupBy(r => r.Phase)
        let direct = mode.Single(r => r.Target == Direct)
        from other in mode
        where other != direct && direct.Total is not null && other.Total is not null
        select (mode.Key, direct, other);

    /// <summary>Other − direct for each round, rounds matched by index (they ran next to each other).</summary>
    private static string ByRound(PhaseResult direct, PhaseResult other, Func<Latency, double> pick) =>
        string.Join(", ", direct.Rounds.Zip(other.Rounds, (d, o) => Delta(o, d, pick)));

    private static string Deltas(Latency? other, Latency? direct) =>
        $"{Delta(other, direct, l => l.P50Ms)} | {Delta(other, direct, l => l.P90Ms)} | {Delta(other, direct, l => l.P99Ms)}";

    private static string Delta(Latency? other, Latency? direct, Func<Latency, double> pick) =>
        other is null || direct is null ? "–" : $"{pick(other) - pick(direct):+0.000;-0.000;0.000}";

    private static string Ms(double? value) => value is { } v ? $"{v:0.000}" : "–";

    private static string Verdict(bool met) => met ? "met" : "**missed**";
}
