using Polly.CircuitBreaker;
using RelayCluster.Upstreams;
using RelayCluster.Upstreams.Resilience;

namespace RelayCluster.Tests.Resilience;

/// <summary>The per-provider breaker: opens on repeated failures, fails fast, probes after the break.</summary>
public sealed class CircuitBreakerTests
{
    private readonly FakeClock _clock = new();
    private readonly ScriptedProvider _upstream;

    public CircuitBreakerTests() => _upstream = new ScriptedProvider(_clock);

    private ResilientProvider Resilient(int maxAttempts = 1) => new(_upstream, RetryTests.Options(o =>
    {
        o.FailureRatio = 0.5;
        o.MinimumThroughput = 4;
        o.SamplingSeconds = 30;
        o.BreakSeconds = 15;
    }), maxAttempts, _clock);

    private static async Task<int> StatusOfAsync(ResilientProvider provider)
    {
        await using var response = await provider.SendAsync(ScriptedProvider.Request(), default);
        return response.StatusCode;
    }

    [Fact]
    public async Task Repeated_failures_open_the_breaker_which_fails_fast_then_probes_and_closes()
    {
        var provider = Resilient();
        _upstream.Status(503).Throw(new UpstreamUnavailableException("refused")).Status(500).Status(504);
        Assert.Equal(503, await StatusOfAsync(provider));
        await Assert.ThrowsAsync<UpstreamUnavailableException>(() => StatusOfAsync(provider));
        Assert.Equal(500, await StatusOfAsync(provider));
        Assert.Equal(CircuitState.Closed, provider.Circuit); // three attempts: below the minimum throughput
        Assert.Equal(504, await StatusOfAsync(provider));
        Assert.Equal(CircuitState.Open, provider.Circuit);

        // Open: the call fails at once, as an UpstreamUnavailableException, and the upstream is not called.
        var open = await Assert.ThrowsAsync<CircuitOpenException>(() => StatusOfAsync(provider));
        Assert.IsAssignableFrom<UpstreamUnavailableException>(open);
        Assert.Equal(TimeSpan.FromSeconds(15), open.RetryAfter);
        Assert.Equal(4, _upstream.Calls.Count);

        _clock.Advance(TimeSpan.FromSeconds(14));
        await Assert.ThrowsAsync<CircuitOpenException>(() => StatusOfAsync(provider));
        Assert.Equal(4, _upstream.Calls.Count);

        // After the break one probe goes through; its success closes the circuit.
        _clock.Advance(TimeSpan.FromSeconds(1));
        _upstream.Status(200).Status(200);
        Assert.Equal(200, await StatusOfAsync(provider));
        Assert.Equal(CircuitState.Closed, provider.Circuit);
        Assert.Equal(200, await StatusOfAsync(provider));
        Assert.Equal(6, _upstream.Calls.Count);

        var health = provider.GetHealth();
        Assert.Equal("closed", health.Circuit);
        Assert.Equal(2, health.RejectedByCircuit);
    }

    [Fact]
    public async Task A_failed_probe_opens_the_breaker_again()
    {
        var provider = Resilient();
        for (var i = 0; i < 4; i++)
        {
            _upstream.Status(500);
            await StatusOfAsync(provider);
        }

        _clock.Advance(TimeSpan.FromSeconds(15));
        _upstream.Status(502);
        Assert.Equal(502, await StatusOfAsync(provider));
        Assert.Equal(CircuitState.Open, provider.Circuit);
        Assert.Equal("open", provider.GetHealth().Circuit);
        await Assert.ThrowsAsync<CircuitOpenException>(() => StatusOfAsync(provider));
    }

    [Fact]
    public async Task Client_errors_and_rate_limits_do_not_open_the_breaker()
    {
        var provider = Resilient();
        foreach (var status in new[] { 400, 429, 404, 429, 422, 429 })
        {
            _upstream.Status(status);
            Assert.Equal(status, await StatusOfAsync(provider));
        }

        Assert.Equal(CircuitState.Closed, provider.Circuit);
    }

    [Fact]
    public async Task A_breaker_that_opens_during_retries_stops_them()
    {
        var provider = Resilient(maxAttempts: 10);
        for (var i = 0; i < 10; i++)
        {
            _upstream.Status(503);
        }

        var call = provider.SendAsync(ScriptedProvider.Request(), default).AsTask();
        for (var i = 0; i < 3; i++)
        {
            _clock.Advance(await _clock.WaitForTimerAsync(d => d <= TimeSpan.FromSeconds(2)));
        }

        // The fourth failure opened the breaker: no fifth attempt, no wait for one; the last answer comes back.
        await using var response = await call;
        Assert.Equal((503, 4), (response.StatusCode, response.Attempts));
        Assert.Equal(4, _upstream.Calls.Count);
        Assert.Equal([true, true, true, false], _upstream.Responses.Select(r => r.Disposed));
        Assert.Empty(_clock.PendingDelays());
        await Assert.ThrowsAsync<CircuitOpenException>(() => StatusOfAsync(provider));
    }
}
