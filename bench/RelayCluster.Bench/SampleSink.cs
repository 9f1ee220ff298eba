using System.Diagnostics;

namespace RelayCluster.Bench;

/// <summary>
/// Collects the samples of one phase (one target, possibly over several alternating rounds), the wall
/// time those rounds took and the CPU each process used meanwhile. Latencies are also kept by round,
/// so the report can show how much a percentile moves from one round to the next. Safe for
/// concurrent writers: a lock costs nothing next to a request at these rates.
/// </summary>
internal sealed class SampleSink(string phase, Target target)
{
    private readonly Lock _gate = new();
    private readonly List<long> _total = [];
    private readonly List<long> _firstData = [];
    private readonly List<long> _lag = [];
    private readonly List<Latency?> _rounds = [];
    private List<long> _round = [];
    private readonly Dictionary<string, int> _errors = new(StringComparer.Ordinal);
    private TimeSpan[]? _cpu;
    private RedisWindow? _redis;
    private readonly Dictionary<string, TimeSpan> _detail = new(StringComparer.Ordinal);
    private readonly List<RedisLatency?> _redisRounds = [];
    private long _elapsedTicks;
    private int _sent;
    private long? _allocated;
    private int _allocWindows;
    private bool _allocUnknown;

    public string Phase { get; } = phase;

    public Target Target { get; } = target;

    /// <summary>Records a request; <paramref name="lagTicks"/> is how late an open-loop request left.</summary>
    public void Record(Sample sample, long? lagTicks = null)
    {
        lock (_gate)
        {
            _sent++;
            if (lagTicks is { } lag)
            {
                _lag.Add(lag);
            }

            if (sample.Error is { } error)
            {
                _errors[error] = _errors.GetValueOrDefault(error) + 1;
                return;
            }

            _total.Add(sample.TotalTicks);
            _round.Add(sample.TotalTicks);
            if (sample.FirstDataTicks > 0)
            {
                _firstData.Add(sample.FirstDataTicks);
            }
        }
    }

    /// <summary>
    /// Closes one measured window (a round): its wall time, each process's CPU time over it, and the
    /// latencies recorded since the previous window, all of whose requests have completed by now.
    /// </summary>
    public void AddWindow(long elapsedTicks, TimeSpan[] cpu)
    {
        lock (_gate)
        {
            _rounds.Add(Latency.Of(_round));
            _round = [];
            _elapsedTicks += elapsedTicks;
            _cpu = _cpu is null ? cpu : _cpu.Zip(cpu, (a, b) => a + b).ToArray();
        }
    }

    /// <summary>Adds the Redis counters of one window (when the run watches a Redis).</summary>
    public void AddRedis(RedisWindow window)
    {
        lock (_gate)
        {
            _redis = _redis is null ? window : _redis + window;
            _redisRounds.Add(window.EvalShaLatency);
        }
    }

    /// <summary>Adds the bytes the target's own server allocated over one window (null: unknown, which makes the whole phase unknown).</summary>
    public void AddAllocated(long? bytes)
    {
        lock (_gate)
        {
            _allocUnknown |= bytes is null;
            _allocated = (_allocated ?? 0) + (bytes ?? 0);
            _allocWindows++;
        }
    }

    /// <summary>Adds one window's CPU by thread and by other process (see <see cref="CpuDetail"/>).</summary>
    public void AddDetail(Dictionary<string, TimeSpan> detail)
    {
        lock (_gate)
        {
            foreach (var (key, time) in detail)
            {
                _detail[key] = _detail.GetValueOrDefault(key) + time;
            }
        }
    }

    public PhaseResult Summarize(string settings)
    {
        lock (_gate)
        {
            var seconds = (double)_elapsedTicks / Stopwatch.Frequency;
            return new PhaseResult(
                Phase,
                Target.Name,
                settings,
                _sent,
                _total.Count,
                new Dictionary<string, int>(_errors, StringComparer.Ordinal),
                seconds,
                Latency.Of(_total),
                Latency.Of(_firstData),
                Latency.Of(_lag),
                [.. _rounds],
                _cpu ?? [],
                _redis,
                [.. _redisRounds],
                new Dictionary<string, TimeSpan>(_detail, StringComparer.Ordinal),
                _allocUnknown ? null : _allocated,
                _allocWindows);
        }
    }
}

/// <summary>The figures of one phase, ready for the report.</summary>
internal sealed record PhaseResult(
    string Phase,
    string Target,
    string Settings,
    int Sent,
    int Ok,
    IReadOnlyDictionary<string, int> Errors,
    double Seconds,
    Latency? Total,
    Latency? FirstData,
    Latency? SendLag,
    IReadOnlyList<Latency?> Rounds,
    TimeSpan[] Cpu,
    RedisWindow? Redis = null,
    IReadOnlyList<RedisLatency?>? RedisRounds = null,
    IReadOnlyDictionary<string, TimeSpan>? Detail = null,
    long? Allocated = null,
    int AllocWindows = 0)
{
    public int ErrorCount => Errors.Values.Sum();

    public double Throughput => Seconds > 0 ? Ok / Seconds : 0;

    /// <summary>CPU microseconds per completed request for one process.</summary>
    public double CpuMicrosPerRequest(int process) => Ok > 0 ? Cpu[process].TotalMicroseconds / Ok : 0;

    /// <summary>
    /// Bytes the target's own server allocated per completed request, less one scrape's own allocations per window
    /// (<paramref name="scrapeCost"/>, see <see cref="AllocMeter"/>); null when not measured.
    /// </summary>
    public double? AllocatedPerRequest(long scrapeCost) =>
        Allocated is { } bytes && Ok > 0 ? Math.Max(0, bytes - (AllocWindows * scrapeCost)) / (double)Ok : null;

    /// <summary>Share of one core a process used, in percent (200 % = both cores of this machine).</summary>
    public double CpuPercent(int process) => Seconds > 0 ? Cpu[process].TotalSeconds / Seconds * 100 : 0;
}
