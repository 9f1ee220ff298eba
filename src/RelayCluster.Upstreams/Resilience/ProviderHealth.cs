namespace RelayCluster.Upstreams.Resilience;

/// <summary>One provider's health for the admin API, as of <see cref="At"/>.</summary>
/// <param name="Circuit"><c>closed</c>, <c>open</c>, <c>half_open</c> or <c>isolated</c>.</param>
/// <param name="WindowAttempts">Upstream calls within the last <see cref="WindowSeconds"/>.</param>
/// <param name="WindowFailures">Of those, unreachable, timed out or answered 408/5xx (what the breaker counts).</param>
/// <param name="WindowThrottled">Of those, answered 429.</param>
/// <param name="ErrorRate">WindowFailures / WindowAttempts, 0 without attempts.</param>
/// <param name="Requests">Calls since start (each may have made several attempts).</param>
/// <param name="Attempts">Upstream calls since start.</param>
/// <param name="Retries">Attempts beyond the first of their request.</param>
/// <param name="RejectedByCircuit">Calls failed fast by an open breaker, without an upstream call.</param>
/// <param name="LatencyP50Ms">Median time to response headers over the last <see cref="LatencySamples"/> answers.</param>
public sealed record ProviderHealthSnapshot(
    string ProviderId,
    DateTimeOffset At,
    string Circuit,
    double WindowSeconds,
    long WindowAttempts,
    long WindowFailures,
    long WindowThrottled,
    double ErrorRate,
    long Requests,
    long Attempts,
    long Retries,
    long RejectedByCircuit,
    double? LatencyP50Ms,
    double? LatencyP99Ms,
    int LatencySamples);

/// <summary>Where the admin API reads every provider's health.</summary>
public interface IProviderHealthSource
{
    IReadOnlyList<ProviderHealthSnapshot> GetHealth();
}

/// <summary>
/// Counters for one provider: attempts and failures over a sliding window (ring of time buckets) and the
/// time to headers of the last <see cref="LatencyCapacity"/> answers (ring buffer). Memory is fixed;
/// recording takes one uncontended lock, reading a snapshot copies and sorts at most 512 numbers.
/// </summary>
internal sealed class ProviderHealth(string providerId, TimeSpan window, TimeProvider time)
{
    public const int LatencyCapacity = 512;
    private const int Buckets = 10;

    private readonly Lock _lock = new();
    private readonly long _bucketTicks = Math.Max(1, window.Ticks / Buckets);
    private readonly long[] _bucketIndex = new long[Buckets];
    private readonly long[] _attempts = new long[Buckets];
    private readonly long[] _failures = new long[Buckets];
    private readonly long[] _throttled = new long[Buckets];
    private readonly double[] _latencyMs = new double[LatencyCapacity];
    private int _latencyCount;
    private int _latencyNext;
    private long _requests;
    private long _totalAttempts;
    private long _retries;
    private long _rejected;

    public void RecordAnswer(int status, TimeSpan timeToHeaders, bool isRetry)
    {
        lock (_lock)
        {
            var slot = CurrentSlot();
            _attempts[slot]++;
            _failures[slot] += UpstreamFailure.IsUnhealthy(status) ? 1 : 0;
            _throttled[slot] += status == 429 ? 1 : 0;
            _latencyMs[_latencyNext] = timeToHeaders.TotalMilliseconds;
            _latencyNext = (_latencyNext + 1) % LatencyCapacity;
            _latencyCount = Math.Min(_latencyCount + 1, LatencyCapacity);
            CountAttempt(isRetry);
        }
    }

    public void RecordFailure(bool isRetry)
    {
        lock (_lock)
        {
            var slot = CurrentSlot();
            _attempts[slot]++;
            _failures[slot]++;
            CountAttempt(isRetry);
        }
    }

    public void RecordRequest() => Interlocked.Increment(ref _requests);

    public void RecordRejected() => Interlocked.Increment(ref _rejected);

    public ProviderHealthSnapshot Snapshot(string circuit)
    {
        double[] latencies;
        long attempts = 0, failures = 0, throttled = 0, totalAttempts, retries;
        lock (_lock)
        {
            totalAttempts = _totalAttempts;
            retries = _retries;
            var current = time.GetUtcNow().UtcTicks / _bucketTicks;
            for (var i = 0; i < Buckets; i++)
            {
                if (_bucketIndex[i] > current - Buckets)
                {
                    attempts += _attempts[i];
                    failures += _failures[i];
                    throttled += _throttled[i];
                }
            }

            latencies = _latencyMs[.._latencyCount];
        }

        Array.Sort(latencies);
        return new ProviderHealthSnapshot(
            providerId, time.GetUtcNow(), circuit, _bucketTicks * Buckets / (double)TimeSpan.TicksPerSecond,
            attempts, failures, throttled, attempts == 0 ? 0 : failures / (double)attempts,
            Interlocked.Read(ref _requests), totalAttempts, retries, Interlocked.Read(ref _rejected),
            Percentile(latencies, 0.50), Percentile(latencies, 0.99), latencies.Length);
    }

    /// <summary>Nearest-rank percentile of sorted samples.</summary>
    private static double? Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? null : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    private void CountAttempt(bool isRetry)
    {
        _totalAttempts++;
        _retries += isRetry ? 1 : 0;
    }

    /// <summary>The bucket of now, emptied first if it last held an older period (must hold the lock).</summary>
    private int CurrentSlot()
    {
        var index = time.GetUtcNow().UtcTicks / _bucketTicks;
        var slot = (int)(index % Buckets);
        if (_bucketIndex[slot] != index)
        {
            _bucketIndex[slot] = index;
            _attempts[slot] = 0;
            _failures[slot] = 0;
            _throttled[slot] = 0;
        }

        return slot;
    }
}
