using System.Diagnostics;

namespace RelayCluster.Bench;

/// <summary>
/// Percentiles of a set of durations, exact (nearest rank over every recorded sample) rather than
/// bucketed: a run records at most a few hundred thousand samples, so sorting them is cheap and there
/// is no bucket error to explain when differences of a fraction of a millisecond matter.
/// </summary>
internal sealed record Latency(int Count, double P50Ms, double P90Ms, double P99Ms, double P999Ms, double MaxMs)
{
    public static Latency? Of(List<long> ticks)
    {
        if (ticks.Count == 0)
        {
            return null;
        }

        var sorted = ticks.ToArray();
        Array.Sort(sorted);
        return new Latency(sorted.Length, Ms(At(sorted, 0.50)), Ms(At(sorted, 0.90)), Ms(At(sorted, 0.99)), Ms(At(sorted, 0.999)), Ms(sorted[^1]));
    }

    public static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

    private static long At(long[] sorted, double quantile) =>
        sorted[Math.Clamp((int)Math.Ceiling(quantile * sorted.Length) - 1, 0, sorted.Length - 1)];
}
