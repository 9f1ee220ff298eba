namespace RelayCluster.Core.Tenants;

/// <summary>
/// A 60-second sliding window kept as 60 one-second buckets. Exact at one-second granularity with fixed,
/// small state (the same shape the Redis store keeps as a hash), where a log of every request would
/// grow with the limit. Not thread-safe: the owning grain serializes its turns.
/// </summary>
public sealed class SlidingWindow
{
    public const int WindowSeconds = 60;

    private readonly long[] _second = new long[WindowSeconds];
    private readonly long[] _amount = new long[WindowSeconds];

    /// <summary>Sum of the buckets still inside the window at <paramref name="nowSecond"/>.</summary>
    public long Used(long nowSecond)
    {
        long total = 0;
        for (var i = 0; i < WindowSeconds; i++)
        {
            if (IsLive(i, nowSecond))
            {
                total += _amount[i];
            }
        }

        return total;
    }

    public void Add(long nowSecond, long amount) => Add(nowSecond, amount, out _);

    /// <summary>
    /// Adds to the bucket of <paramref name="nowSecond"/> and returns its new amount. <paramref name="evicted"/> is the
    /// older second whose bucket this one replaced (null if the slot was empty or already this second's), so a journal
    /// can delete it from storage.
    /// </summary>
    public long Add(long nowSecond, long amount, out long? evicted)
    {
        var slot = Slot(nowSecond);
        evicted = null;
        if (_second[slot] != nowSecond)
        {
            evicted = _second[slot] == 0 ? null : _second[slot];
            _second[slot] = nowSecond;
            _amount[slot] = 0;
        }

        _amount[slot] += amount;
        return _amount[slot];
    }

    /// <summary>
    /// Corrects the bucket of an earlier admission (estimate → actual) if it is still in the window, and returns the
    /// bucket's new amount, or null when the bucket has slid out (nothing changed).
    /// </summary>
    public long? Adjust(long bucketSecond, long nowSecond, long delta)
    {
        var slot = Slot(bucketSecond);
        if (_second[slot] == bucketSecond && IsLive(slot, nowSecond))
        {
            _amount[slot] = Math.Max(0, _amount[slot] + delta);
            return _amount[slot];
        }

        return null;
    }

    /// <summary>
    /// Restores a stored bucket at activation. Nothing is kept when it is outside the window at <paramref name="nowSecond"/>
    /// or a newer second holds its slot (<see cref="Holds"/> then says so, and storage may drop it).
    /// </summary>
    public void Load(long second, long amount, long nowSecond)
    {
        var slot = Slot(second);
        if (second > nowSecond - WindowSeconds && second <= nowSecond + WindowSeconds && _second[slot] <= second)
        {
            _second[slot] = second;
            _amount[slot] = amount;
        }
    }

    /// <summary>Empties the window and returns the seconds of the buckets it held, for storage to drop.</summary>
    public IReadOnlyList<long> Clear()
    {
        var held = _second.Where(s => s != 0).ToList();
        Array.Clear(_second);
        Array.Clear(_amount);
        return held;
    }

    /// <summary>Whether the window holds a bucket for <paramref name="second"/> (live, or stamped ahead of now).</summary>
    public bool Holds(long second) => second != 0 && _second[Slot(second)] == second;

    /// <summary>The live buckets (second, amount), oldest first: what a journal stores.</summary>
    public IEnumerable<(long Second, long Amount)> Buckets(long nowSecond) => LiveBucketsOldestFirst(nowSecond);

    /// <summary>
    /// How long until <paramref name="amount"/> more fits under <paramref name="limit"/>: the moment enough
    /// of the oldest buckets have slid out. Zero if it fits now.
    /// </summary>
    public TimeSpan TimeUntilFits(long nowMs, long amount, long limit)
    {
        var nowSecond = nowMs / 1000;
        var excess = Used(nowSecond) + amount - limit;
        if (excess <= 0)
        {
            return TimeSpan.Zero;
        }

        foreach (var (second, value) in LiveBucketsOldestFirst(nowSecond))
        {
            excess -= value;
            if (excess <= 0)
            {
                return ExpiryDelay(second, nowMs);
            }
        }

        return TimeSpan.FromSeconds(WindowSeconds);
    }

    /// <summary>How long until every bucket now in the window has slid out (the x-ratelimit-reset-* value).</summary>
    public TimeSpan TimeUntilEmpty(long nowMs)
    {
        var nowSecond = nowMs / 1000;
        // Newest first, so the common case (a bucket of this second) stops at once; no iterator: every admission asks.
        for (var second = nowSecond; second > nowSecond - WindowSeconds; second--)
        {
            var slot = Slot(second);
            if (_second[slot] == second && _amount[slot] > 0)
            {
                return ExpiryDelay(second, nowMs);
            }
        }

        return TimeSpan.Zero;
    }

    private IEnumerable<(long Second, long Amount)> LiveBucketsOldestFirst(long nowSecond)
    {
        for (var second = nowSecond - WindowSeconds + 1; second <= nowSecond; second++)
        {
            var slot = Slot(second);
            if (_second[slot] == second)
            {
                yield return (second, _amount[slot]);
            }
        }
    }

    private static TimeSpan ExpiryDelay(long bucketSecond, long nowMs) =>
        TimeSpan.FromMilliseconds(Math.Max(1, ((bucketSecond + WindowSeconds) * 1000) - nowMs));

    private bool IsLive(int slot, long nowSecond) => _second[slot] > nowSecond - WindowSeconds && _second[slot] <= nowSecond;

    private static int Slot(long second) => (int)(((second % WindowSeconds) + WindowSeconds) % WindowSeconds);
}
