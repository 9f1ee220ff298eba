namespace RelayCluster.Upstreams.Resilience;

/// <summary>
/// What an upstream's answer means for resilience, in one place for the retry pipeline and the routing
/// fallbacks, following the official SDKs' rules (protocol reference §6.1).
/// </summary>
public static class UpstreamFailure
{
    /// <summary>
    /// Whether calling the same upstream again may succeed: 408, 409, 429 and 5xx, unless the upstream
    /// said otherwise with <c>x-should-retry</c>, which overrides the status.
    /// </summary>
    public static bool IsRetryable(int status, bool? shouldRetry = null) =>
        shouldRetry ?? status is 408 or 409 or 429 or >= 500;

    /// <summary>Whether a failed call may be retried: unreachable, timed out before the headers, or reset.</summary>
    public static bool IsRetryable(Exception exception) => exception switch
    {
        CircuitOpenException => false, // the breaker has just said this upstream is down: do not hammer it
        UpstreamUnavailableException => true,
        HttpRequestException or IOException => true,
        _ => false,
    };

    /// <summary>
    /// Whether another provider should be tried instead: everything retryable, plus 401/403/404, which
    /// are the relay's configuration failing at this upstream (its key, its model name), not the caller's
    /// mistake. Other 4xx would fail the same way anywhere, so they go back to the caller.
    /// </summary>
    public static bool IsFailover(int status) => IsRetryable(status) || status is 401 or 403 or 404;

    /// <summary>Whether a failed call should be tried on another provider (a circuit-open one included).</summary>
    public static bool IsFailover(Exception exception) =>
        exception is UpstreamUnavailableException or HttpRequestException or IOException;

    /// <summary>
    /// Whether an answer counts against the upstream's health (error rate, circuit breaker): server errors
    /// and timeouts. A 429 does not: it is a busy, working upstream, answered by waiting its Retry-After,
    /// and breaking the circuit on it would turn one key's rate limit into an outage for everyone.
    /// </summary>
    public static bool IsUnhealthy(int status) => status is 408 or >= 500;
}
