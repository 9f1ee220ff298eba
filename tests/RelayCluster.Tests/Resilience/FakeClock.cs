namespace RelayCluster.Tests.Resilience;

/// <summary>
/// A TimeProvider with timers that fire only when a test advances the clock (ManualClock has no timers,
/// and Polly's delays and the timeouts need them). Timestamps come from the same clock, so measured
/// latencies are exact. Tests wait for a timer to be armed (a signal, with a real-time deadline), then
/// advance: never a sleep.
/// </summary>
internal sealed class FakeClock(DateTimeOffset start) : TimeProvider
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private readonly Lock _lock = new();
    private readonly List<FakeTimer> _timers = [];
    private TimeSpan _elapsed;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public FakeClock()
        : this(new DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.Zero))
    {
    }

    public DateTimeOffset Start { get; } = start;

    public TimeSpan Elapsed
    {
        get
        {
            lock (_lock)
            {
                return _elapsed;
            }
        }
    }

    public override DateTimeOffset GetUtcNow() => Start + Elapsed;

    public override long GetTimestamp() => Elapsed.Ticks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new FakeTimer(this, callback, state);
        lock (_lock)
        {
            _timers.Add(timer);
        }

        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Time from now until each armed timer fires, soonest first.</summary>
    public IReadOnlyList<TimeSpan> PendingDelays()
    {
        lock (_lock)
        {
            return [.. _timers.Where(t => t.Due is not null).Select(t => t.Due!.Value - _elapsed).Order()];
        }
    }

    /// <summary>Waits (in real time, bounded) until a timer is armed whose delay from now satisfies <paramref name="match"/>.</summary>
    public async Task<TimeSpan> WaitForTimerAsync(Func<TimeSpan, bool> match)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                foreach (var delay in PendingDelays())
                {
                    if (match(delay))
                    {
                        return delay;
                    }
                }

                changed = _changed.Task;
            }

            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException($"No matching timer was armed; pending: [{string.Join(", ", PendingDelays())}].");
            }

            try
            {
                await changed.WaitAsync(left);
            }
            catch (TimeoutException)
            {
                // Checked once more at the top, then reported with what was pending.
            }
        }
    }

    /// <summary>Moves time forward, firing every timer that falls due on the way, in order.</summary>
    public void Advance(TimeSpan by)
    {
        TimeSpan target;
        lock (_lock)
        {
            target = _elapsed + by;
        }

        while (true)
        {
            FakeTimer? next;
            lock (_lock)
            {
                next = _timers.Where(t => t.Due <= target).MinBy(t => t.Due);
                if (next is null)
                {
                    _elapsed = target;
                    break;
                }

                _elapsed = next.Due!.Value;
                next.Due = next.Period > TimeSpan.Zero ? _elapsed + next.Period : null;
            }

            next.Fire();
        }
    }

    private void Changed()
    {
        TaskCompletionSource previous;
        lock (_lock)
        {
            previous = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        previous.TrySetResult();
    }

    private sealed class FakeTimer(FakeClock clock, TimerCallback callback, object? state) : ITimer
    {
        public TimeSpan? Due { get; set; }

        public TimeSpan Period { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (clock._lock)
            {
                Due = dueTime == Timeout.InfiniteTimeSpan ? null : clock._elapsed + dueTime;
                Period = period == Timeout.InfiniteTimeSpan ? TimeSpan.Zero : period;
            }

            clock.Changed();
            return true;
        }

        public void Fire() => callback(state);

        public void Dispose()
        {
            lock (clock._lock)
            {
                Due = null;
                clock._timers.Remove(this);
            }

            clock.Changed();
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
