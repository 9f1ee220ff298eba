using System.Diagnostics;

namespace RelayCluster.Bench;

/// <summary>
/// The phases of one run. (a) relay vs direct (and the bare proxy, if one runs) at a fixed rate,
/// non-streaming then streaming; the targets take turns in rounds ordered A B C, C B A, A B C…, so
/// drift over the run (JIT tiering, GC heap growth, a noisy neighbour) weighs on all alike. With several
/// relays (the same silo on different stores) each is one more target in those rounds.
/// (b) closed-loop throughput: the relay's in-process simulator, which the target is about, then (with
/// one relay) MockUpstream alone and the relay in front of it as reference points for what this machine
/// and this generator can do at all; with several relays, each relay's in-process simulator.
/// When a Redis is watched, its counters are taken around every measured window, and at the end each
/// relay is traced command by command for a moment (outside the measured windows).
/// </summary>
internal sealed class BenchPlan(BenchSettings settings, HttpProbe probe, CpuMeter cpu, RedisStats? redis, AllocMeter? alloc = null)
{
    /// <summary>What a closed-loop target's name ends with when it streams (<c>--closed-streaming true</c>).</summary>
    public const string StreamingSuffix = ", streaming";

    private readonly CpuDetail _detail = new(settings.Processes);

    /// <summary>How long the run may pause, in all, between rounds for other processes to quiet down.</summary>
    private static readonly TimeSpan PauseBudget = TimeSpan.FromSeconds(60);

    private TimeSpan _paused;

    public async Task<BenchRun> RunAsync()
    {
        var floor = await WaitForQuietMachineAsync();
        var ping = redis?.Ping(2000);
        if (ping is not null)
        {
            Progress($"Redis PING round trip: p50 {ping.P50Ms * 1000:0} µs, p99 {ping.P99Ms * 1000:0} µs");
        }

        // A zero duration skips that part, for quick experiments on one of them.
        var results = new List<PhaseResult>();
        if (settings.ClosedFirst)
        {
            await RunClosedAsync(results);
        }

        bool[] modes = settings.Duration <= TimeSpan.Zero ? [] : settings.Streaming ? [false, true] : [false];
        foreach (var stream in modes)
        {
            results.AddRange(await CompareAtFixedRateAsync(stream));
        }

        if (!settings.ClosedFirst)
        {
            await RunClosedAsync(results);
        }

        var traces = await TraceAsync();
        var scrapeCost = alloc is null ? [] : await alloc.ScrapeCostAsync();
        return new BenchRun(floor, results, traces, ping, _paused, scrapeCost);
    }

    private async Task RunClosedAsync(List<PhaseResult> results)
    {
        if (settings.ClosedDuration > TimeSpan.Zero && settings.ClosedRounds > 1)
        {
            results.AddRange(await SaturateInRoundsAsync(ClosedTargets()));
        }
        else if (settings.ClosedDuration > TimeSpan.Zero)
        {
            foreach (var target in ClosedTargets())
            {
                await PauseWhileBusyAsync();
                results.Add(await SaturateAsync(target));
            }
        }
    }

    private List<Target> ClosedTargets()
    {
        if (settings.ClosedModel is { } model)
        {
            // The bare proxy passes the body on untouched, so it is asked for the upstream's own model name. The bare proxy ×N
            // (--proxies) is the same proxy as N processes, in turn: the control for a cluster's topology.
            bool[] modes = settings.ClosedStreaming ? [false, true] : [false];
            return
            [
                .. from stream in modes
                   let suffix = stream ? StreamingSuffix : ""
                   from target in (settings.ClosedProxy && settings.ProxyUrl is { } proxy
                       ? [new Target(Report.BareProxy + suffix, proxy, settings.ApiKey, settings.DirectModel, stream)]
                       : Array.Empty<Target>())
                       .Concat(settings.ProxyUrls.Count > 0
                           ? [new Target(Report.Proxies(settings) + suffix, settings.ProxyUrls, settings.ApiKey, settings.DirectModel, stream)]
                           : Array.Empty<Target>())
                       .Concat(settings.Relays.Select(r => new Target($"{r.Name}, {ClosedTarget(model)}{suffix}", r.Urls, settings.ApiKey, model, stream)))
                   select target,
            ];
        }

        var simulators = settings.Relays
            .Select(r => new Target($"{r.Name}, in-process simulator", r.Urls, settings.ApiKey, settings.SimulatorModel, stream: false))
            .ToList();
        if (settings.Relays.Count > 1)
        {
            return simulators;
        }

        var (name, url) = settings.Relays[0];
        return
        [
            .. simulators,
            new Target("direct (MockUpstream alone)", settings.DirectUrl, settings.ApiKey, settings.DirectModel, stream: false),
            new Target($"{name} → MockUpstream", url, settings.ApiKey, settings.RelayModel, stream: false),
        ];
    }

    /// <summary>What a closed-loop target asked for <paramref name="model"/> is called in the report.</summary>
    private string ClosedTarget(string model) =>
        model == settings.SimulatorModel ? "in-process simulator" : model == settings.RelayModel ? "→ upstream" : $"model {model}";

    /// <summary>Each relay under MONITOR for a moment at the fixed rate, non-streaming and streaming.</summary>
    private async Task<List<RedisTrace>> TraceAsync()
    {
        var traces = new List<RedisTrace>();
        if (redis is null || settings.TraceDuration <= TimeSpan.Zero)
        {
            return traces;
        }

        var scripts = RedisTrace.ScriptNames(settings.RedisScripts);
        foreach (var stream in new[] { false, true })
        {
            var phase = stream ? "streaming" : "non-streaming";
            foreach (var (name, urls) in settings.Relays)
            {
                Progress($"trace {phase} {name}: {settings.TraceDuration.TotalSeconds:0.#} s at {settings.Rate}/s under MONITOR");
                var target = new Target(name, urls, settings.ApiKey, settings.RelayModel, stream);
                traces.Add(await RedisTrace.RecordAsync(redis, scripts, phase, target, sink => OpenLoop.RunAsync(probe, sink, settings.Rate, settings.TraceDuration)));
            }
        }

        return traces;
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

    /// <summary>
    /// Before each round: if other processes (a build, a test run: the machine is shared) keep more than a
    /// quarter of a core busy while the servers idle, waits for them, up to <see cref="PauseBudget"/> over the
    /// whole run; the report says how long. Costs half a second a round on a quiet machine.
    /// </summary>
    private async Task PauseWhileBusyAsync()
    {
        var waited = TimeSpan.Zero;
        while (true)
        {
            var before = cpu.Read();
            var start = Stopwatch.GetTimestamp();
            await Task.Delay(TimeSpan.FromMilliseconds(500));
            var elapsed = Stopwatch.GetElapsedTime(start);
            var other = CpuMeter.Delta(before, cpu.Read())[^2].TotalSeconds / elapsed.TotalSeconds * 100;
            if (other < 25 || _paused >= PauseBudget)
            {
                if (waited > TimeSpan.Zero)
                {
                    Progress($"resuming after {waited.TotalSeconds:0} s ({_paused.TotalSeconds:0} s of {PauseBudget.TotalSeconds:0} s used); other processes now {other:0} % of a core");
                }

                return;
            }

            if (waited == TimeSpan.Zero)
            {
                Progress($"other processes use {other:0} % of a core: pausing until they use less than 25 %");
            }

            waited += elapsed;
            _paused += elapsed;
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

        targets.AddRange(settings.Relays
            .Where(r => settings.OpenRelays is null || settings.OpenRelays.Contains(r.Name))
            .Select(r => new Target(r.Name, r.Urls, settings.ApiKey, settings.RelayModel, stream)));
        var sinks = targets.ConvertAll(t => new SampleSink(phase, t));
        foreach (var sink in sinks)
        {
            Progress($"{phase} {sink.Target.Name}: warm-up {settings.Warmup.TotalSeconds:0.#} s");
            await OpenLoop.RunAsync(probe, new SampleSink(phase, sink.Target), settings.Rate, settings.Warmup);
        }

        var slice = settings.Duration / settings.Rounds;
        for (var round = 0; round < settings.Rounds; round++)
        {
            await PauseWhileBusyAsync();
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

    /// <summary>
    /// Closed loop in alternating rounds: every target warmed up first, then each round gives every target an
    /// equal slice of <see cref="BenchSettings.ClosedDuration"/>, in the order A B C, C B A, …, as the fixed-rate phase does.
    /// </summary>
    private async Task<PhaseResult[]> SaturateInRoundsAsync(List<Target> targets)
    {
        var sinks = targets.ConvertAll(t => new SampleSink("closed", t));
        foreach (var sink in sinks)
        {
            Progress($"closed loop {sink.Target.Name}: warm-up {settings.ClosedWarmup.TotalSeconds:0.#} s at concurrency {settings.Concurrency}");
            await ClosedLoop.RunAsync(probe, new SampleSink("closed", sink.Target), settings.Concurrency, settings.ClosedWarmup);
        }

        var slice = settings.ClosedDuration / settings.ClosedRounds;
        for (var round = 0; round < settings.ClosedRounds; round++)
        {
            await PauseWhileBusyAsync();
            foreach (var sink in round % 2 == 0 ? sinks : Enumerable.Reverse(sinks).ToList())
            {
                Progress($"closed loop {sink.Target.Name}: round {round + 1}/{settings.ClosedRounds}, {slice.TotalSeconds:0.#} s at concurrency {settings.Concurrency}");
                await MeasureAsync(sink, () => ClosedLoop.RunAsync(probe, sink, settings.Concurrency, slice));
            }
        }

        return [.. sinks.Select(s => s.Summarize($"closed loop, concurrency {settings.Concurrency}, {settings.ClosedRounds} rounds"))];
    }

    /// <summary>
    /// Runs one window of load and charges its wall time, every process's CPU, Redis's counters and the bytes the target's own
    /// server allocated to the sink. The allocation reads (HTTP scrapes) sit outside the CPU readings, so their CPU is not charged.
    /// </summary>
    private async Task MeasureAsync(SampleSink sink, Func<Task> load)
    {
        var allocProcess = AllocProcess(sink.Target);
        var allocBefore = allocProcess is null ? null : await alloc!.ReadAsync(allocProcess);
        redis?.Reset();
        var detailBefore = _detail.Read();
        var cpuBefore = cpu.Read();
        var start = Stopwatch.GetTimestamp();
        await load();
        var elapsed = Stopwatch.GetTimestamp() - start;
        var cpuAfter = cpu.Read();
        sink.AddWindow(elapsed, CpuMeter.Delta(cpuBefore, cpuAfter));
        sink.AddDetail(CpuDetail.Delta(detailBefore, _detail.Read()));
        if (redis is not null)
        {
            sink.AddRedis(redis.Read());
        }

        if (allocProcess is not null)
        {
            var allocAfter = await alloc!.ReadAsync(allocProcess);
            sink.AddAllocated(allocAfter - allocBefore);
        }
    }

    /// <summary>The <c>--alloc</c> process serving a target (a relay's silos, the bare proxy or proxies), or null if none is watched.</summary>
    private string? AllocProcess(Target target)
    {
        var process = Report.IsRelay(target.Name) ? Report.SiloProcess(settings, target.Name) : Report.ProxyProcess(settings, target.Name);
        return alloc is not null && alloc.Watches(process) ? process : null;
    }

    private static void Progress(string message) => Console.Error.WriteLine($"[bench {DateTime.Now:HH:mm:ss}] {message}");
}

/// <summary>Everything a run measured.</summary>
/// <param name="ScrapeCost">Bytes one <c>/metrics</c> read adds to a window, per <c>--alloc</c> process (see <see cref="AllocMeter"/>).</param>
internal sealed record BenchRun(NoiseFloor Floor, List<PhaseResult> Phases, List<RedisTrace> Traces, Latency? RedisPing, TimeSpan Paused,
    IReadOnlyDictionary<string, long> ScrapeCost);
