namespace RelayCluster.Core.Configuration;

/// <summary>
/// How one provider's calls are retried, timed out and circuit-broken (<c>Relay:Providers:{id}:Resilience</c>).
/// Retries happen only before the relay has forwarded any upstream byte to its caller, so a retry never
/// duplicates output. A value of 0 for a timeout disables it.
/// </summary>
public sealed class ResilienceOptions
{
    /// <summary>Default attempts for a remote provider: the first call and two retries, as the OpenAI SDKs do.</summary>
    public const int DefaultMaxAttempts = 3;

    /// <summary>
    /// Upstream calls per request, the first included (1 disables retries). Null means
    /// <see cref="DefaultMaxAttempts"/> for a remote provider and 1 for the simulator, whose errors are
    /// scripted by the request itself, so a retry would only meet the same error again, later.
    /// </summary>
    public int? MaxAttempts { get; set; }

    /// <summary>First backoff delay; doubled on each retry, with jitter, up to <see cref="MaxDelayMs"/>.</summary>
    public int BaseDelayMs { get; set; } = 200;

    public int MaxDelayMs { get; set; } = 2_000;

    /// <summary>
    /// Longest upstream <c>Retry-After</c> (or <c>retry-after-ms</c>) the relay waits out itself. A longer one
    /// is not waited for: the 429/503 goes back to the caller at once with that Retry-After, which the SDKs
    /// honour. Kept short because the caller holds its slot while the relay waits, and a streaming request
    /// silent for a heartbeat is committed as 200, after which an error can only be an SSE error event.
    /// </summary>
    public double MaxRetryAfterSeconds { get; set; } = 2;

    /// <summary>Longest wait for a streaming request's response headers, per attempt (a timeout is retried).</summary>
    public double FirstByteTimeoutSeconds { get; set; } = 30;

    /// <summary>
    /// The same for a non-streaming request, whose headers come only once the whole completion is written:
    /// it must cover the longest legitimate generation, or healthy calls would be cut and paid for again.
    /// </summary>
    public double NonStreamingFirstByteTimeoutSeconds { get; set; } = 600;

    /// <summary>
    /// Longest silence between body reads; it restarts at every read that returns data, so a healthy stream
    /// may run as long as it likes (there is no total timeout). Covers reasoning models' quiet stretches.
    /// </summary>
    public double IdleTimeoutSeconds { get; set; } = 120;

    /// <summary>The breaker opens when this share of the attempts within <see cref="SamplingSeconds"/> failed…</summary>
    public double FailureRatio { get; set; } = 0.5;

    /// <summary>…and at least this many attempts were made in that window (2 or more).</summary>
    public int MinimumThroughput { get; set; } = 10;

    public double SamplingSeconds { get; set; } = 30;

    /// <summary>How long an open breaker fails calls fast before one probe call is let through (half-open).</summary>
    public double BreakSeconds { get; set; } = 15;

    public int AttemptsFor(string providerType) =>
        MaxAttempts ?? (providerType == ProviderTypes.Simulator ? 1 : DefaultMaxAttempts);

    /// <summary>Why these options cannot build a pipeline, or null.</summary>
    public string? Problem() =>
        MaxAttempts is < 1 or > 10 ? "MaxAttempts must be between 1 and 10."
        : BaseDelayMs < 0 || MaxDelayMs < BaseDelayMs ? "BaseDelayMs must be 0 or more and MaxDelayMs at least BaseDelayMs."
        : MaxRetryAfterSeconds < 0 ? "MaxRetryAfterSeconds must be 0 or more."
        : FirstByteTimeoutSeconds < 0 || NonStreamingFirstByteTimeoutSeconds < 0 || IdleTimeoutSeconds < 0 ? "Timeouts must be 0 (off) or more."
        : FailureRatio is <= 0 or > 1 ? "FailureRatio must be above 0 and at most 1."
        : MinimumThroughput < 2 ? "MinimumThroughput must be at least 2."
        : SamplingSeconds <= 0.5 || BreakSeconds <= 0.5 ? "SamplingSeconds and BreakSeconds must be above 0.5."
        : null;
}
