using System.Diagnostics;

namespace RelayCluster.Bench;

/// <summary>
/// How late a thread that asks to sleep 1 ms wakes up, measured before any load while the servers
/// idle, and how busy the machine was meanwhile. The first is the floor under every tail latency of
/// the run: on a small virtual machine the scheduler alone can cost milliseconds at p99.9. The second
/// tells whether something else (a build, a test run) was using the machine when the benchmark began.
/// </summary>
internal sealed record NoiseFloor(Latency Oversleep, double OtherCpuPercent)
{
    /// <summary>True when other processes kept more than a quarter of a core busy: the run would be disturbed.</summary>
    public bool MachineBusy => OtherCpuPercent >= 25;

    public static NoiseFloor Measure(CpuMeter cpu, TimeSpan duration)
    {
        var before = cpu.Read();
        var start = Stopwatch.GetTimestamp();
        var end = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var oversleep = new List<long>();
        var oneMs = Stopwatch.Frequency / 1000;
        while (Stopwatch.GetTimestamp() < end)
        {
            var asleep = Stopwatch.GetTimestamp();
            Thread.Sleep(1);
            oversleep.Add(Math.Max(0, Stopwatch.GetTimestamp() - asleep - oneMs));
        }

        var elapsed = Stopwatch.GetElapsedTime(start);
        var used = CpuMeter.Delta(before, cpu.Read());
        return new NoiseFloor(Latency.Of(oversleep)!, (used[^2] + used[^1]).TotalSeconds / elapsed.TotalSeconds * 100);
    }
}
