using RelayCluster.Core.Configuration;
using RelayCluster.Upstreams;
using RelayCluster.Upstreams.Resilience;

namespace RelayCluster.Tests.Resilience;

/// <summary>Which answers are retried, how long the pipeline waits between attempts, and what the caller gets.</summary>
public sealed class RetryTests
{
    private readonly FakeClock _clock = new();
    private readonly ScriptedProvider _upstream;

    public RetryTests() => _upstream = new ScriptedProvider(_clock);

    /// <summary>Options for tests: a breaker that stays out of the way unless a test wants it.</summary>
    internal static ResilienceOptions Options(Action<ResilienceOptions>? tweak = null)
    {
        var options = new ResilienceOptions
        {
            MaxAttempts = 3, BaseDelayMs = 200, MaxDelayMs = 2_000, MaxRetryAfterSeconds = 5,
            FirstByteTimeoutSeconds = 30, NonStreamingFirstByteTimeoutSeconds = 60, IdleTimeoutSeconds = 10,
            MinimumThroughput = 1_000,
        };
        tweak?.Invoke(options);
        return options;
    }

    private ResilientProvider Resilient(Action<ResilienceOptions>? tweak = null)
    {
        var options = Options(tweak);
        return new ResilientProvider(_upstream, options, options.MaxAttempts!.Value, _clock);
    }

    [Fact]
    public async Task A_503_is_retried_after_a_backoff_and_the_retry_answers()
    {
        _upstream.Status(503).Status(200);
        var call = Resilient().SendAsync(ScriptedProvider.Request(), default).AsTask();

        var backoff = await _clock.WaitForTimerAsync(d => d <= TimeSpan.FromSeconds(2));
        Assert.False(call.IsCompleted);
        _clock.Advance(backoff);
        await using var response = await call;

        Assert.Equal(200, response.StatusCode);
        Assert.Equal(2, response.Attempts);
        Assert.Equal([_clock.Start, _clock.Start + backoff], _upstream.Calls);
        Assert.True(_upstream.Responses[0].Disposed); // the retried answer's upstream call was ended
        Assert.False(_upstream.Responses[1].Disposed); // the returned one is the caller's
    }

    [Fact]
    public async Task A_429_with_retry_after_waits_exactly_that_long()
    {
        _upstream.Status(429, retryAfter: TimeSpan.FromSeconds(2)).Status(200);
        var call = Resilient().SendAsync(ScriptedProvider.Request(), default).AsTask();

        Assert.Equal(TimeSpan.FromSeconds(2), await _clock.WaitForTimerAsync(d => d <= TimeSpan.FromSeconds(5)));
        _clock.Advance(TimeSpan.FromMilliseconds(1_999));
        Assert.Single(_upstream.Calls);
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        await using var response = await call;

        Assert.Equal(200, response.StatusCode);
        Assert.Equal(_clock.Start + TimeSpan.FromSeconds(2), _upstream.Calls[1]);
    }

    [Fact]
    public async Task A_retry_after_in_milliseconds_is_honoured_to_the_millisecond()
    {
        _upstream.Status(503, retryAfter: TimeSpan.FromMilliseconds(84)).Status(200);
        var call = Resilient().SendAsync(ScriptedProvider.Request(), default).AsTask();

        Assert.Equal(TimeSpan.FromMilliseconds(84), await _clock.WaitForTimerAsync(d => d <= TimeSpan.FromSeconds(5)));
        _clock.Advance(TimeSpan.FromMilliseconds(84));
        await using var response = await call;
        Assert.Equal(2, response.Attempts);
    }

    [Fact]
    public async Task A_retry_after_beyond_the_cap_goes_back_to_the_caller_at_once()
    {
        _upstream.Status(429, retryAfter: TimeSpan.FromSeconds(30));
        await using var response = await Resilient().SendAsync(ScriptedProvider.Request(), default);

        Assert.Equal(429, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(30), response.RetryAfter);
        Assert.Equal(1, response.Attempts);
        Assert.Equal(TimeSpan.Zero, _clock.Elapsed);
    }

    [Theory]
    [InlineData(400)]
    [InlineData(401)]
    [InlineData(404)]
    [InlineData(422)]
    public async Task A_client_error_is_returned_at_once(int status)
    {
        _upstream.Status(status);
        await using var response = await Resilient().SendAsync(ScriptedProvider.Request(), default);

        Assert.Equal(status, response.StatusCode);
        Assert.Equal(1, response.Attempts);
        Assert.Single(_upstream.Calls);
        Assert.False(_upstream.Responses[0].Disposed);
    }

    [Fact]
    public async Task An_upstream_saying_x_should_retry_false_is_not_retried()
    {
        _upstream.Status(503, shouldRetry: false);
        await using var response = await Resilient().SendAsync(ScriptedProvider.Request(), default);
        Assert.Equal((503, 1), (response.StatusCode, response.Attempts));
    }

    [Fact]
    public async Task Exhausted_retries_return_the_last_answer_and_end_the_others()
    {
        _upstream.Status(500).Status(502).Status(503);
        var call = Resilient().SendAsync(ScriptedProvider.Request(), default).AsTask();
        for (var i = 0; i < 2; i++)
        {
            _clock.Advance(await _clock.WaitForTimerAsync(d => d <= TimeSpan.FromSeconds(2)));
        }

        await using var response = await call;
        Assert.Equal((503, 3), (response.StatusCode, response.Attempts));
        Assert.Equal([true, true, false], _upstream.Responses.Select(r => r.Disposed));
    }

    [Fact]
    public async Task An_unreachable_upstream_is_retried_then_surfaced_as_unavailable()
    {
        for (var i = 0; i < 3; i++)
        {
            _upstream.Throw(new UpstreamUnavailableException("Connection refused (127.0.0.1:9)"));
        }

        var call = Resilient().SendAsync(ScriptedProvider.Request(), default).AsTask();
        for (var i = 0; i < 2; i++)
        {
            _clock.Advance(await _clock.WaitForTimerAsync(d => d <= TimeSpan.FromSeconds(2)));
        }

        var error = await Assert.ThrowsAsync<UpstreamUnavailableException>(() => call);
        Assert.Equal(3, error.Attempts);
        Assert.Equal(3, _upstream.Calls.Count);
    }

    [Fact]
    public async Task A_raw_connection_error_from_a_provider_becomes_unavailable()
    {
        _upstream.Throw(new HttpRequestException("reset")).Status(200);
        var call = Resilient().SendAsync(ScriptedProvider.Request(), default).AsTask();
        _clock.Advance(await _clock.WaitForTimerAsync(d => d <= TimeSpan.FromSeconds(2)));
        await using var response = await call;
        Assert.Equal(2, response.Attempts);
    }

    [Fact]
    public async Task Backoff_grows_exponentially_within_the_maximum()
    {
        _upstream.Status(503).Status(503).Status(503).Status(503).Status(200);
        var call = Resilient(o => { o.MaxAttempts = 5; o.MaxDelayMs = 1_000; }).SendAsync(ScriptedProvider.Request(), default).AsTask();
        var delays = new List<TimeSpan>();
        for (var i = 0; i < 4; i++)
        {
            var delay = await _clock.WaitForTimerAsync(d => d <= TimeSpan.FromSeconds(5));
            delays.Add(delay);
            _clock.Advance(delay);
        }

        await using var response = await call;
        Assert.Equal(5, response.Attempts);
        Assert.All(delays, d => Assert.InRange(d, TimeSpan.Zero, TimeSpan.FromSeconds(1)));
        Assert.True(delays.Sum(d => d.TotalMilliseconds) >= 200, string.Join(", ", delays));
    }

    [Fact]
    public async Task Cancelling_the_caller_stops_a_backoff_wait_at_once()
    {
        _upstream.Status(503).Status(200);
        using var cancel = new CancellationTokenSource();
        var call = Resilient().SendAsync(ScriptedProvider.Request(), cancel.Token).AsTask();
        await _clock.WaitForTimerAsync(d => d <= TimeSpan.FromSeconds(2));

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        Assert.Single(_upstream.Calls);
        Assert.True(_upstream.Responses[0].Disposed);
    }

    [Fact]
    public async Task Cancelling_the_caller_stops_an_attempt_in_flight_without_a_retry()
    {
        _upstream.Hang().Status(200);
        using var cancel = new CancellationTokenSource();
        var call = Resilient().SendAsync(ScriptedProvider.Request(), cancel.Token).AsTask();
        await _clock.WaitForTimerAsync(d => d == TimeSpan.FromSeconds(60)); // the attempt's first-byte timer

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        Assert.Single(_upstream.Calls);
        Assert.True(_upstream.HangingTokens[0].IsCancellationRequested);
    }

    [Fact]
    public void Retry_rules_follow_the_sdks()
    {
        Assert.All(new[] { 408, 409, 429, 500, 502, 503, 504, 529 }, s => Assert.True(UpstreamFailure.IsRetryable(s)));
        Assert.All(new[] { 200, 400, 401, 403, 404, 413, 422 }, s => Assert.False(UpstreamFailure.IsRetryable(s)));
        Assert.True(UpstreamFailure.IsRetryable(400, shouldRetry: true));
        Assert.False(UpstreamFailure.IsRetryable(500, shouldRetry: false));
        Assert.True(UpstreamFailure.IsFailover(401));
        Assert.False(UpstreamFailure.IsFailover(400));
        Assert.True(UpstreamFailure.IsFailover(new CircuitOpenException("p", null)));
        Assert.False(UpstreamFailure.IsRetryable(new CircuitOpenException("p", null)));
        Assert.False(UpstreamFailure.IsUnhealthy(429));
    }

    [Fact]
    public void The_simulator_defaults_to_one_attempt_and_remote_providers_to_three()
    {
        Assert.Equal(1, new ResilienceOptions().AttemptsFor(ProviderTypes.Simulator));
        Assert.Equal(3, new ResilienceOptions().AttemptsFor(ProviderTypes.OpenAi));
        Assert.Equal(2, new ResilienceOptions { MaxAttempts = 2 }.AttemptsFor(ProviderTypes.Simulator));
        Assert.Null(new ResilienceOptions().Problem());
        Assert.NotNull(new ResilienceOptions { MinimumThroughput = 1 }.Problem());
    }
}
