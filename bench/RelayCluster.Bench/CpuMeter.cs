using System.Diagnostics;
using System.Globalization;

namespace RelayCluster.Bench;

/// <summary>
/// CPU time (user + system) used by each process of the run: the generator itself, the relay, the
/// upstream, and "other", everything else the machine ran meanwhile. On two shared cores, CPU per
/// request says more about where the time goes than latency alone, shows whether the generator is
/// the one saturating the machine, and "other" tells a clean run from one disturbed by a build.
/// </summary>
internal sealed class CpuMeter
{
    // /proc/stat counts in USER_HZ, which Linux fixes at 100 for user space whatever the kernel's HZ.
    private const double ProcStatTicksPerSecond = 100;
    private readonly List<(string Name, Process Process)> _processes;

    public CpuMeter(IEnumerable<(string Name, int Pid)> others)
    {
        _processes = [("generator", Process.GetCurrentProcess())];
        _processes.AddRange(others.Select(p => (p.Name, Process.GetProcessById(p.Pid))));
    }

    public IReadOnlyList<string> Names => [.. _processes.Select(p => p.Name), "other"];

    /// <summary>Cumulative CPU time of each process, then of the whole machine (turned into "other" by <see cref="Delta"/>).</summary>
    public TimeSpan[] Read() =>
    [
        .. _processes.Select(p =>
        {
            p.Process.Refresh();
            return p.Process.HasExited
                ? throw new InvalidOperationException($"The {p.Name} process (pid {p.Process.Id}) exited during the run.")
                : p.Process.TotalProcessorTime;
        }),
        MachineBusy(),
    ];

    /// <summary>CPU used by each process between two readings, the last entry being what none of them used.</summary>
    public static TimeSpan[] Delta(TimeSpan[] before, TimeSpan[] after)
    {
        var delta = after.Zip(before, (a, b) => a - b).ToArray();
        var ours = delta[..^1].Aggregate(TimeSpan.Zero, (sum, d) => sum + d);
        delta[^1] = delta[^1] > ours ? delta[^1] - ours : TimeSpan.Zero;
        return delta;
    }

    private static TimeSpan MachineBusy()
    {
        const string stat = "/proc/stat";
        if (!File.Exists(stat))
        {
            return TimeSpan.Zero;
        }

        // "cpu  user nice system idle iowait irq softirq steal …": busy is all but idle and iowait.
        var fields = File.ReadLines(stat).First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..]
            .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        var busy = fields.Take(8).Sum() - fields[3] - fields[4];
        return TimeSpan.FromSeconds(busy / ProcStatTicksPerSecond);
    }
}
