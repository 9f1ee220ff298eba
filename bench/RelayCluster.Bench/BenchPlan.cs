using System.Diagnostics;

namespace RelayCluster.Bench;

/// <summary>
/// The phases of one run. (a) relay vs direct (and the bare proxy, if one runs) at a fixed rate,
/// non-streaming then streaming; the targets take turns in rounds ordered A B C, C B A, A B C…, so
/// drift over the run (JIT tiering, GC heap growth, a noisy neighbour) weighs on all alike.
/// (b) closed-loop throughput: the relay's in-process simulator, which the target is about, then
/// MockUpstream alone and the relay in front of it as reference points for what this machine and
/// this generator can do at all.
/// </summary>
internal sealed class BenchPlan(BenchSettings settings, HttpProbe probe, CpuMeter cpu)
{
    public async Task<(NoiseFloor Floor, List<PhaseResult> Phases)> RunAsync()
    {
        var floor = await WaitForQuietMachineAsync();

        // A zero duration skips that part, for quick experiments on one of them.
        var results = new List<PhaseResult>();
        foreach (var stream in settings.Duration > TimeSpan.Zero ? [false, true] : Array.Empty<bool>())
        {
            results.AddRange(await CompareAtFixedRateAsync(stream));
        }

        if (settings.ClosedDuration <= TimeSpan.Zero)
        {
            return (floor, results);
        }

        var closed = new[]
        {
            new Target("relay, in-process simulator", settings.RelayUrl, settings.ApiKey, settings.SimulatorModel, stream: false),
            new Target("direct (MockUpstream alone)", settings.DirectUrl, settings.ApiKey, settings.DirectModel, stream: false),
            new Target("relay → MockUpstream", settings.RelayUrl, settings.ApiKey, settings.RelayModel, stream: false),
        };
        foreach (var target in closed)
        {
            results.Add(await SaturateAsync(target));
        }

        return (floor, results);
    }

    /// <summary>
    /// Measures the noise floor; if other processes are busy (the machine is shared with builds and
    /// test runs), waits up to a minute for them to finish, then goes on regardless: the report says so.
    /// </summary>
    private async Task<NoiseFloor> WaitForQuietMachineAsync()
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var floor = await Task.Run(() => NoiseFloor.Measure(cpu, TimeSpan.FromSeconds(2)));
            if (!floor.MachineBusy || waited.Elapsed > TimeSpan.FromMinutes(1))
            {
                Progress($"noise floor: 1 ms sleep oversleeps p99 {floor.Oversleep.P99Ms:0.000} ms, p99.9 {floor.Oversleep.P999Ms:0.000} ms; other processes {floor.OtherCpuPercent:0} % of a core");
                return floor;
            }

            Progress($"other processes use {floor.OtherCpuPercent:0} % of a core: waiting for a quieter machine");
        }
    }

    private async Task<PhaseResult[]> CompareAtFixedRateAsync(bool stream)
    {
        var phase = stream ? "streaming" : "non-streaming";
        var targets = new List<Target> { new(Report.Direct, settings.DirectUrl, settings.ApiKey, settings.DirectModel, stream) };
        if (settings.ProxyUrl is { } proxy)
        {
            // The bare proxy passes the body on untouched, so it is asked for the upstream's own model name.
            targets.Add(new Target(Report.BareProxy, proxy, settings.ApiKey, settings.DirectModel, stream));
        }

        targets.Add(new Target(Report.Relay, settings.RelayUrl, settings.ApiKey, settings.RelayModel, stream));
        var sinks = targets.ConvertAll(t => new SampleSink(phase, t));
        foreach (var sink in sinks)
        {
            Progress($"{phase} {sink.Target.Name}: warm-up {settings.Warmup.TotalSeconds:0.#} s");
            await OpenLoop.RunAsync(probe, new SampleSink(phase, sink.Target), settings.Rate, settings.Warmup);
        }

        var slice = settings.Duration / settings.Rounds;
        for (var round = 0; round < settings.Rounds; round++)
        {
            var order = round % 2 == 0 ? sinks : Enumerable.Reverse(sinks).ToList();
            foreach (var sink in order)
            {
                Progress($"{phase} {sink.Target.Name}: round {round + 1}/{settings.Rounds}, {slice.TotalSeconds:0.#} s at {settings.Rate}/s");
                await MeasureAsync(sink, () => OpenLoop.RunAsync(probe, sink, settings.Rate, slice));
            }
        }

        var description = $"open loop, {settings.Rate}/s";
        return [.. sinks.Select(s => s.Summarize(description))];
    }

    private async Task<PhaseResult> SaturateAsync(Target target)
    {
        Progress($"closed loop {target.Name}: warm-up {settings.ClosedWarmup.TotalSeconds:0.#} s, then {settings.ClosedDuration.TotalSeconds:0.#} s at concurrency {settings.Concurrency}");
        await ClosedLoop.RunAsync(probe, new SampleSink("closed", target), settings.Concurrency, settings.ClosedWarmup);
        var sink = new SampleSink("closed", target);
        await MeasureAsync(sink, () => ClosedLoop.RunAsync(probe, sink, settings.Concurrency, settings.ClosedDuration));
        return sink.Summarize($"closed loop, concurrency {settings.Concurrency}");
    }

    /// <summary>Runs one window of load and charges its wall time and every process's CPU to the sink.</summary>
    private async Task MeasureAsync(SampleSink sink, Func<Task> load)
    {
        var cpuBefore = cpu.Read();
        var start = Stopwatch.GetTimestamp();
        await load();
        var elapsed = Stopwatch.GetTimestamp() - start;
        var cpuAfter = cpu.Read();
        sink.AddWindow(elapsed, CpuMeter.Delta(cpuBefore, cpuAfter));
    }

    private static void Progress(string message) => Console.Error.WriteLine($"[bench {DateTime.Now:HH:mm:ss}] {message}");
}
