using System.Diagnostics;

namespace RelayCluster.Bench.Tenant;

/// <summary>
/// CPU time (user + system) of this process (the driver, and with an in-process silo the grain too) and of the named
/// others (redis-server), read around the measured window; a machine-wide "other" tells a quiet run from a shared one.
/// </summary>
internal sealed class ProcessCpu(IReadOnlyList<(string Name, int Pid)> others)
{
    private const double TicksPerSecond = 100; // /proc/stat's USER_HZ

    public IReadOnlyList<(string Name, TimeSpan Cpu)> Read()
    {
        var readings = new List<(string, TimeSpan)> { ("driver", Process.GetCurrentProcess().TotalProcessorTime) };
        foreach (var (name, pid) in others)
        {
            using var process = Process.GetProcessById(pid);
            readings.Add((name, process.TotalProcessorTime));
        }

        readings.Add(("machine busy", MachineBusy()));
        return readings;
    }

    /// <summary>The CPU each process used between two readings; "other" = the machine's busy time less ours.</summary>
    public static IReadOnlyList<(string Name, TimeSpan Cpu)> Delta(IReadOnlyList<(string Name, TimeSpan Cpu)> before, IReadOnlyList<(string Name, TimeSpan Cpu)> after)
    {
        var used = after.Zip(before, (a, b) => (a.Name, a.Cpu - b.Cpu)).ToList();
        var ours = used[..^1].Aggregate(TimeSpan.Zero, (sum, u) => sum + u.Item2);
        var busy = used[^1].Item2;
        used[^1] = ("other", busy > ours ? busy - ours : TimeSpan.Zero);
        return used;
    }

    private static TimeSpan MachineBusy()
    {
        // "cpu  user nice system idle iowait irq softirq steal …": busy is all but idle and iowait.
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..]
            .Select(f => long.Parse(f, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        return TimeSpan.FromSeconds((fields.Take(8).Sum() - fields[3] - fields[4]) / TicksPerSecond);
    }
}
