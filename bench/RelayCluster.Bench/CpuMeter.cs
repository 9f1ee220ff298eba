using System.Diagnostics;
using System.Globalization;

namespace RelayCluster.Bench;

/// <summary>
/// CPU time (user + system) used by each process of the run: the generator itself, the relay, the
/// upstream, then "other", every other process's time (and kernel time charged to none), and "softirq",
/// the kernel's interrupt work, mostly the loopback networking between the processes of the run. On two
/// shared cores, CPU per request says more about where the time goes than latency alone, shows whether
/// the generator is the one saturating the machine, and "other" tells a clean run from one disturbed by
/// a build or a test run elsewhere on the machine.
/// </summary>
internal sealed class CpuMeter
{
    // /proc/stat counts in USER_HZ, which Linux fixes at 100 for user space whatever the kernel's HZ.
    private const double ProcStatTicksPerSecond = 100;
    private readonly List<(string Name, Process[] Processes)> _processes;

    /// <summary>Several pids under one name (a cluster's silos) are one column: their CPU is added up.</summary>
    public CpuMeter(IEnumerable<(string Name, int Pid)> others)
    {
        _processes = [("generator", [Process.GetCurrentProcess()])];
        _processes.AddRange(others.GroupBy(p => p.Name, StringComparer.Ordinal)
            .Select(g => (g.Key, g.Select(p => Process.GetProcessById(p.Pid)).ToArray())));
    }

    public IReadOnlyList<string> Names => [.. _processes.Select(p => p.Name), "other", "softirq"];

    /// <summary>
    /// Cumulative CPU time of each process, then the whole machine's busy time outside interrupts (turned
    /// into "other" by <see cref="Delta"/>), then its interrupt time.
    /// </summary>
    public TimeSpan[] Read() =>
    [
        .. _processes.Select(p => p.Processes.Aggregate(TimeSpan.Zero, (sum, process) =>
        {
            process.Refresh();
            return process.HasExited
                ? throw new InvalidOperationException($"The {p.Name} process (pid {process.Id}) exited during the run.")
                : sum + process.TotalProcessorTime;
        })),
        .. MachineBusy(),
    ];

    /// <summary>
    /// CPU used by each process between two readings, then "other" (busy outside interrupts, less what our
    /// processes used) and "softirq". Approximate: interrupt work done while one of our processes was
    /// running may be charged to it as well.
    /// </summary>
    public static TimeSpan[] Delta(TimeSpan[] before, TimeSpan[] after)
    {
        var delta = after.Zip(before, (a, b) => a - b).ToArray();
        var ours = delta[..^2].Aggregate(TimeSpan.Zero, (sum, d) => sum + d);
        delta[^2] = delta[^2] > ours ? delta[^2] - ours : TimeSpan.Zero;
        return delta;
    }

    private static TimeSpan[] MachineBusy()
    {
        const string stat = "/proc/stat";
        if (!File.Exists(stat))
        {
            return [TimeSpan.Zero, TimeSpan.Zero];
        }

        // "cpu  user nice system idle iowait irq softirq steal …": busy is all but idle and iowait.
        var fields = File.ReadLines(stat).First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..]
            .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        var interrupts = fields[5] + fields[6];
        var busy = fields.Take(8).Sum() - fields[3] - fields[4] - interrupts;
        return [TimeSpan.FromSeconds(busy / ProcStatTicksPerSecond), TimeSpan.FromSeconds(interrupts / ProcStatTicksPerSecond)];
    }
}
