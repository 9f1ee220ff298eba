using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Polly.CircuitBreaker;
using RelayCluster.Core.Configuration;

namespace RelayCluster.Upstreams.Resilience;

/// <summary>
/// Any provider behind its own resilience pipeline: retries with backoff (or the upstream's Retry-After),
/// a first-byte timeout per attempt, an idle timeout on the body, a circuit breaker, and health counters.
/// </summary>
/// <remarks>
/// <para>
/// <b>Invariant: retries happen only inside <see cref="SendAsync"/>,</b> that is before the caller holds a
/// response, so before the relay has forwarded a single upstream byte. Once the headers of a 2xx are
/// returned the call is the caller's: a failure in the body (a drop, an idle timeout) is reported, never
/// retried, because a retry would repeat output the client already has. (A streaming relay may have sent
/// its own heartbeat comments while SendAsync waits; those carry no upstream data.)
/// </para>
/// <para>
/// Every response that is not returned (a retried one) is disposed, which ends its upstream call. A
/// cancelled caller stops the loop at once: the attempt in flight and any backoff wait are cancelled.
/// </para>
/// </remarks>
public sealed class ResilientProvider : IUpstreamProvider, IDisposable
{
    private readonly IUpstreamProvider _inner;
    private readonly ResiliencePipeline<UpstreamResponse> _pipeline;
    private readonly CircuitBreakerStateProvider _circuit = new();
    private readonly ProviderHealth _health;
    private readonly TimeProvider _time;
    private readonly TimeSpan _firstByteStreaming;
    private readonly TimeSpan _firstByteBuffered;
    private readonly TimeSpan _idle;

    public ResilientProvider(
        IUpstreamProvider inner, ResilienceOptions options, int maxAttempts, TimeProvider time,
        ILogger? logger = null, Func<double>? randomizer = null)
    {
        _inner = inner;
        _time = time;
        _firstByteStreaming = TimeSpan.FromSeconds(options.FirstByteTimeoutSeconds);
        _firstByteBuffered = TimeSpan.FromSeconds(options.NonStreamingFirstByteTimeoutSeconds);
        _idle = options.IdleTimeoutSeconds > 0 ? TimeSpan.FromSeconds(options.IdleTimeoutSeconds) : Timeout.InfiniteTimeSpan;
        _health = new ProviderHealth(inner.Id, TimeSpan.FromSeconds(options.SamplingSeconds), time);
        _pipeline = UpstreamPipeline.Build(inner.Id, options, maxAttempts, time, _circuit, logger ?? NullLogger.Instance, randomizer);
        MaxAttempts = maxAttempts;
    }

    /// <summary>Wraps a configured provider with the attempts its type defaults to (see <see cref="ResilienceOptions.MaxAttempts"/>).</summary>
    public static ResilientProvider For(IUpstreamProvider inner, ProviderOptions provider, TimeProvider time, ILogger? logger = null) =>
        new(inner, provider.Resilience, provider.Resilience.AttemptsFor(provider.Type), time, logger);

    public string Id => _inner.Id;

    /// <summary>The provider behind the pipeline (for callers that must bypass it, e.g. shadow traffic).</summary>
    public IUpstreamProvider Inner => _inner;

    public int MaxAttempts { get; }

    public CircuitState Circuit => _circuit.CircuitState;

    public ProviderHealthSnapshot GetHealth() => _health.Snapshot(CircuitName(Circuit));

    /// <summary>
    /// A breaker state as the admin API and the <c>relay.upstream.circuit.state</c> metric name it: <c>closed</c>, <c>open</c>,
    /// <c>half_open</c> or <c>isolated</c> (see <see cref="ProviderHealthSnapshot.Circuit"/>).
    /// </summary>
    internal static string CircuitName(CircuitState state) => state switch
    {
        CircuitState.Closed => "closed",
        CircuitState.Open => "open",
        CircuitState.HalfOpen => "half_open",
        _ => "isolated",
    };

    public async ValueTask<UpstreamResponse> SendAsync(UpstreamRequest request, CancellationToken cancellationToken)
    {
        _health.RecordRequest();
        var call = new Call(this, request);
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        Outcome<UpstreamResponse> outcome;
        try
        {
            outcome = await _pipeline.ExecuteOutcomeAsync(static (ctx, c) => c.Owner.AttemptAsync(ctx, c), context, call);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }

        switch (outcome.Exception)
        {
            case null:
                var response = outcome.Result!;
                response.Attempts = call.Attempts;
                return response;
            case BrokenCircuitException open:
                _health.RecordRejected();
                throw new CircuitOpenException(Id, open.RetryAfter, open) { Attempts = call.Attempts };
            case UpstreamUnavailableException unavailable:
                unavailable.Attempts = call.Attempts;
                break;
        }

        ExceptionDispatchInfo.Throw(outcome.Exception);
        return null!; // unreachable
    }

    public void Dispose() => (_inner as IDisposable)?.Dispose();

    /// <summary>One attempt: the inner call under its first-byte timeout, its outcome counted for health.</summary>
    private async ValueTask<Outcome<UpstreamResponse>> AttemptAsync(ResilienceContext context, Call call)
    {
        var isRetry = call.Attempts++ > 0;
        var firstByte = call.Request.Stream ? _firstByteStreaming : _firstByteBuffered;
        var scope = new AttemptScope(firstByte, _time, context.CancellationToken);
        var started = _time.GetTimestamp();
        UpstreamResponse response;
        try
        {
            response = await _inner.SendAsync(call.Request, scope.Token);
        }
        catch (Exception) when (scope.TimedOut)
        {
            scope.Dispose();
            _health.RecordFailure(isRetry);
            return Outcome.FromException<UpstreamResponse>(new UpstreamFirstByteTimeoutException(Id, firstByte));
        }
        catch (Exception ex) when (!context.CancellationToken.IsCancellationRequested && ex is UpstreamUnavailableException or HttpRequestException or IOException)
        {
            // Providers other than the OpenAI one may let a raw connection error out: callers know one kind.
            scope.Dispose();
            _health.RecordFailure(isRetry);
            return Outcome.FromException<UpstreamResponse>(ex as UpstreamUnavailableException ?? new UpstreamUnavailableException(ex.Message, ex));
        }
        catch
        {
            scope.Dispose();
            throw;
        }

        if (!scope.Disarm())
        {
            // The timer fired just as the headers came: too late all the same, and the attempt is torn.
            await response.DisposeAsync();
            scope.Dispose();
            _health.RecordFailure(isRetry);
            return Outcome.FromException<UpstreamResponse>(new UpstreamFirstByteTimeoutException(Id, firstByte));
        }

        // The wrapper owns the scope and the inner response: disposing it (the caller, or Polly for a
        // retried answer) ends the upstream call.
        var wrapped = new UpstreamResponse(response.StatusCode, new IdleTimeoutStream(response, _idle, _time), response.RetryAfter, scope)
        {
            ShouldRetry = response.ShouldRetry,
            RefusedByProvider = response.RefusedByProvider,
        };
        if (wrapped.IsSuccess && call.Request.Check is { } check)
        {
            try
            {
                wrapped = await check(wrapped, context.CancellationToken);
            }
            catch (Exception ex) when (!context.CancellationToken.IsCancellationRequested && ex is HttpRequestException or IOException)
            {
                // The body broke off (or idled out) while it was vetted: nothing reached the caller, so it is retryable.
                await wrapped.DisposeAsync();
                _health.RecordFailure(isRetry);
                return Outcome.FromException<UpstreamResponse>(new UpstreamUnavailableException($"the upstream's answer broke off: {ex.Message}", ex));
            }
            catch
            {
                await wrapped.DisposeAsync();
                throw;
            }
        }

        _health.RecordAnswer(wrapped.StatusCode, _time.GetElapsedTime(started), isRetry);
        return Outcome.FromResult(wrapped);
    }

    private sealed class Call(ResilientProvider owner, UpstreamRequest request)
    {
        public ResilientProvider Owner { get; } = owner;

        public UpstreamRequest Request { get; } = request;

        public int Attempts { get; set; }
    }
}
