namespace RelayCluster.Silo.Routing;

/// <summary>
/// One route target's last 60 seconds on this silo: per second, the tries sent to it, those that failed, and a latency
/// histogram of fixed buckets. Recording is two or three interlocked increments and no allocation; a second's slot is
/// emptied under a lock by the first record that finds it holding an older second (once per second at most). Memory is
/// fixed: 60 × (2 + <see cref="LatencyBuckets.Count"/>) longs, about 29 KB a target.
/// </summary>
internal sealed class TargetWindow
{
    public const int Seconds = 60;
    private const int Stride = 2 + LatencyBuckets.Count; // requests, errors, then the buckets

    private readonly Lock _rotation = new();
    private readonly long[] _second = new long[Seconds];
    private readonly long[] _counts = new long[Seconds * Stride];

    public TargetWindow()
    {
        Array.Fill(_second, long.MinValue);
    }

    /// <param name="second">The silo's current second (any monotonic count of seconds).</param>
    /// <param name="latencyMs">Null for a try that got no answer (unreachable, timed out, refused by the breaker): not in the histogram.</param>
    public void Record(long second, bool error, double? latencyMs)
    {
        var slot = (int)(second % Seconds);
        if (Volatile.Read(ref _second[slot]) != second)
        {
            Rotate(slot, second);
        }

        var at = slot * Stride;
        Interlocked.Increment(ref _counts[at]);
        if (error)
        {
            Interlocked.Increment(ref _counts[at + 1]);
        }

        if (latencyMs is { } ms)
        {
            Interlocked.Increment(ref _counts[at + 2 + LatencyBuckets.IndexOf(ms)]);
        }
    }

    /// <summary>
    /// Adds the window's counts into <paramref name="sums"/> (requests, errors, then the buckets): the slots of the
    /// current second and the 59 before it. Returns false when all are zero.
    /// </summary>
    public bool AddTo(long now, long[] sums)
    {
        var any = false;
        for (var slot = 0; slot < Seconds; slot++)
        {
            var second = Volatile.Read(ref _second[slot]);
            if (second > now - Seconds && second <= now)
            {
                for (var i = 0; i < Stride; i++)
                {
                    var value = Volatile.Read(ref _counts[slot * Stride + i]);
                    sums[i] += value;
                    any |= value != 0;
                }
            }
        }

        return any;
    }

    private void Rotate(int slot, long second)
    {
        lock (_rotation)
        {
            if (_second[slot] >= second)
            {
                return; // another record rotated it (or a late record of an older second: it counts in the newer one)
            }

            Array.Clear(_counts, slot * Stride, Stride);
            Volatile.Write(ref _second[slot], second);
        }
    }

    /// <summary>The length of the array <see cref="AddTo"/> fills.</summary>
    public static int SumsLength => Stride;
}

/// <summary>
/// Fixed latency buckets: bucket 0 holds up to 1 ms, bucket i (1..56) holds (1.25^(i-1), 1.25^i] ms, up to about 268 s,
/// and the last holds everything longer. A percentile is read as the upper bound of the bucket holding its rank, so it
/// is at most 25 % above the true value (and never below it).
/// </summary>
internal static class LatencyBuckets
{
    public const int Count = 58;
    private const double Growth = 1.25;
    private static readonly double LogGrowth = Math.Log(Growth);

    public static int IndexOf(double ms) =>
        ms <= 1 ? 0 : Math.Min(Count - 1, (int)Math.Ceiling(Math.Log(ms) / LogGrowth - 1e-9));

    /// <summary>The bucket's upper bound in ms (the last bucket's lower bound: it has none).</summary>
    public static double UpperBound(int index) => Math.Pow(Growth, Math.Min(index, Count - 2));

    /// <summary>
    /// The nearest-rank percentile <paramref name="p"/> of a histogram (<paramref name="buckets"/> from
    /// <paramref name="offset"/>), as its bucket's upper bound rounded to 0.01 ms; null when it holds nothing.
    /// </summary>
    public static double? Percentile(long[] buckets, int offset, double p)
    {
        long total = 0;
        for (var i = 0; i < Count; i++)
        {
            total += buckets[offset + i];
        }

        if (total == 0)
        {
            return null;
        }

        var rank = Math.Max(1, (long)Math.Ceiling(p * total));
        long seen = 0;
        for (var i = 0; i < Count; i++)
        {
            seen += buckets[offset + i];
            if (seen >= rank)
            {
                return Math.Round(UpperBound(i), 2);
            }
        }

        return Math.Round(UpperBound(Count - 1), 2);
    }
}
