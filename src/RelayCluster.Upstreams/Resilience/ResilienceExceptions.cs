namespace RelayCluster.Upstreams.Resilience;

/// <summary>
/// The provider's circuit breaker is open: the call failed fast without reaching the upstream. An
/// <see cref="UpstreamUnavailableException"/>, so existing callers answer 502 or move to a fallback.
/// </summary>
public sealed class CircuitOpenException(string providerId, TimeSpan? retryAfter, Exception? inner = null)
    : UpstreamUnavailableException($"The circuit of upstream '{providerId}' is open after repeated failures.", inner)
{
    public string ProviderId { get; } = providerId;

    /// <summary>Time until the breaker lets a probe call through, when known.</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;
}

/// <summary>The upstream did not answer with headers within the first-byte timeout (retryable).</summary>
public sealed class UpstreamFirstByteTimeoutException(string providerId, TimeSpan timeout)
    : UpstreamUnavailableException($"Upstream '{providerId}' did not answer within {timeout.TotalSeconds:0.###} s.")
{
    public TimeSpan Timeout { get; } = timeout;
}

/// <summary>
/// The upstream body went silent for longer than the idle timeout. An <see cref="IOException"/> on
/// purpose: the relay already treats one from the upstream body as a dropped connection (a truncation
/// error event), which is what a stalled upstream is.
/// </summary>
public sealed class UpstreamIdleTimeoutException(TimeSpan timeout, Exception? inner = null)
    : IOException($"The upstream sent nothing for {timeout.TotalSeconds:0.###} s.", inner)
{
    public TimeSpan Timeout { get; } = timeout;
}
