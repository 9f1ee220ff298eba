using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using RelayCluster.Core.Configuration;

namespace RelayCluster.Upstreams.Resilience;

/// <summary>
/// Builds one provider's Polly pipeline: retry (outer) around a circuit breaker (inner).
/// <code>
///  SendAsync ─► retry ─► circuit breaker ─► attempt (first-byte timeout, in ResilientProvider)
///                 ▲            │ open: BrokenCircuitException (not retried → CircuitOpenException);
///                 │            │ a failure that opened it is returned as is, without a pointless wait
///                 └─ 408/409/429/5xx, unreachable, first-byte timeout: wait Retry-After or backoff
/// </code>
/// The breaker sits inside the retry so that it sees every attempt: the failure ratio is the upstream's
/// real health, and a breaker that opens part-way through a retry loop stops that loop at once instead of
/// letting it finish against a dead upstream. The first-byte timeout is not Polly's timeout strategy:
/// that one hands the provider a pooled token that is reset after the attempt, which would detach a
/// streamed response from the caller's cancellation (see <see cref="AttemptScope"/>).
/// </summary>
internal static partial class UpstreamPipeline
{
    public static ResiliencePipeline<UpstreamResponse> Build(
        string providerId, ResilienceOptions options, int maxAttempts, TimeProvider time,
        CircuitBreakerStateProvider circuit, ILogger logger, Func<double>? randomizer = null)
    {
        var builder = new ResiliencePipelineBuilder<UpstreamResponse> { Name = $"upstream:{providerId}", TimeProvider = time };
        var maxRetryAfter = TimeSpan.FromSeconds(options.MaxRetryAfterSeconds);
        if (maxAttempts > 1)
        {
            var retry = new RetryStrategyOptions<UpstreamResponse>
            {
                MaxRetryAttempts = maxAttempts - 1,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(options.BaseDelayMs),
                MaxDelay = TimeSpan.FromMilliseconds(options.MaxDelayMs),
                // Once the breaker has opened (on this very failure, or another call's) a retry could only be
                // refused after its wait: the caller gets the upstream's last answer now instead.
                ShouldHandle = args => ValueTask.FromResult(circuit.CircuitState != CircuitState.Open && ShouldRetry(args.Outcome, maxRetryAfter)),

                // The upstream's own Retry-After is waited exactly (no jitter): it knows when it will have room.
                DelayGenerator = args => ValueTask.FromResult(
                    args.Outcome.Result?.RetryAfter is { } retryAfter && retryAfter >= TimeSpan.Zero ? retryAfter : (TimeSpan?)null),
                OnRetry = args =>
                {
                    Log.Retrying(logger, providerId, args.AttemptNumber + 1, Describe(args.Outcome), args.RetryDelay.TotalMilliseconds);
                    return ValueTask.CompletedTask;
                },
            };
            if (randomizer is not null)
            {
                retry.Randomizer = randomizer;
            }

            builder.AddRetry(retry);
        }

        builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions<UpstreamResponse>
        {
            FailureRatio = options.FailureRatio,
            MinimumThroughput = options.MinimumThroughput,
            SamplingDuration = TimeSpan.FromSeconds(options.SamplingSeconds),
            BreakDuration = TimeSpan.FromSeconds(options.BreakSeconds),
            StateProvider = circuit,
            ShouldHandle = args => ValueTask.FromResult(args.Outcome switch
            {
                { Exception: OperationCanceledException } => false, // the caller left: says nothing about the upstream
                { Exception: { } ex } => UpstreamFailure.IsRetryable(ex),
                { Result: { } response } => UpstreamFailure.IsUnhealthy(response.StatusCode),
                _ => false,
            }),
            OnOpened = args =>
            {
                Log.CircuitOpened(logger, providerId, args.BreakDuration.TotalSeconds, Describe(args.Outcome));
                return ValueTask.CompletedTask;
            },
            OnHalfOpened = _ =>
            {
                Log.CircuitHalfOpened(logger, providerId);
                return ValueTask.CompletedTask;
            },
            OnClosed = _ =>
            {
                Log.CircuitClosed(logger, providerId);
                return ValueTask.CompletedTask;
            },
        });
        return builder.Build();
    }

    /// <summary>
    /// Retry a transient failure, unless the upstream asks for a longer wait than the relay will hold the
    /// caller for: that answer goes back at once, Retry-After and all, for the caller's SDK to wait out.
    /// </summary>
    internal static bool ShouldRetry(Outcome<UpstreamResponse> outcome, TimeSpan maxRetryAfter) => outcome switch
    {
        { Exception: { } ex } => UpstreamFailure.IsRetryable(ex),
        { Result: { } response } => UpstreamFailure.IsRetryable(response.StatusCode, response.ShouldRetry)
            && !(response.RetryAfter > maxRetryAfter),
        _ => false,
    };

    private static string Describe(Outcome<UpstreamResponse> outcome) =>
        outcome.Exception is { } ex ? ex.GetType().Name : $"status {outcome.Result?.StatusCode}";

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Upstream {ProviderId}: attempt {Attempt} failed ({Outcome}); retrying in {DelayMs} ms")]
        public static partial void Retrying(ILogger logger, string providerId, int attempt, string outcome, double delayMs);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream {ProviderId}: circuit opened for {BreakSeconds} s after {Outcome}")]
        public static partial void CircuitOpened(ILogger logger, string providerId, double breakSeconds, string outcome);

        [LoggerMessage(Level = LogLevel.Information, Message = "Upstream {ProviderId}: circuit half-open, probing")]
        public static partial void CircuitHalfOpened(ILogger logger, string providerId);

        [LoggerMessage(Level = LogLevel.Information, Message = "Upstream {ProviderId}: circuit closed")]
        public static partial void CircuitClosed(ILogger logger, string providerId);
    }
}
