using RelayCluster.Upstreams;
using RelayCluster.Upstreams.Resilience;

namespace RelayCluster.Tests.Resilience;

/// <summary>The numbers the admin API will show for a provider.</summary>
public sealed class ProviderHealthTests
{
    private readonly FakeClock _clock = new();
    private readonly ScriptedProvider _upstream;

    public ProviderHealthTests() => _upstream = new ScriptedProvider(_clock);

    private async Task CallAsync(ResilientProvider provider)
    {
        try
        {
            await using var response = await provider.SendAsync(ScriptedProvider.Request(), default);
        }
        catch (UpstreamUnavailableException)
        {
        }
    }

    [Fact]
    public async Task Error_rate_counts_and_time_to_headers_percentiles_are_exact()
    {
        var provider = new ResilientProvider(_upstream, RetryTests.Options(o => o.SamplingSeconds = 60), 1, _clock);

        // 100 answers taking 1..100 ms; of them ten 503s and five 429s; then three unreachable attempts.
        for (var i = 1; i <= 100; i++)
        {
            _upstream.Status(i % 10 == 0 ? 503 : i % 20 == 5 ? 429 : 200, latency: TimeSpan.FromMilliseconds(i));
            await CallAsync(provider);
        }

        for (var i = 0; i < 3; i++)
        {
            _upstream.Throw(new UpstreamUnavailableException("refused"));
            await CallAsync(provider);
        }

        var health = provider.GetHealth();
        Assert.Equal("scripted", health.ProviderId);
        Assert.Equal("closed", health.Circuit);
        Assert.Equal(60, health.WindowSeconds);
        Assert.Equal(103, health.WindowAttempts);
        Assert.Equal(13, health.WindowFailures); // 503s and unreachable; 429s are throttling, not failure
        Assert.Equal(5, health.WindowThrottled);
        Assert.Equal(13 / 103.0, health.ErrorRate, 6);
        Assert.Equal((103, 103, 0, 0), (health.Requests, health.Attempts, health.Retries, health.RejectedByCircuit));
        Assert.Equal(100, health.LatencySamples);
        Assert.Equal(50, health.LatencyP50Ms);
        Assert.Equal(99, health.LatencyP99Ms);
        Assert.Equal(_clock.GetUtcNow(), health.At);
    }

    [Fact]
    public async Task The_window_slides_while_lifetime_totals_remain()
    {
        var provider = new ResilientProvider(_upstream, RetryTests.Options(o => o.SamplingSeconds = 30), 1, _clock);
        _upstream.Status(500).Status(200);
        await CallAsync(provider);
        await CallAsync(provider);
        Assert.Equal((2, 1), (provider.GetHealth().WindowAttempts, provider.GetHealth().WindowFailures));

        _clock.Advance(TimeSpan.FromSeconds(20));
        _upstream.Status(200);
        await CallAsync(provider);
        Assert.Equal((3, 1), (provider.GetHealth().WindowAttempts, provider.GetHealth().WindowFailures));

        _clock.Advance(TimeSpan.FromSeconds(15)); // the first two fell out of the 30 s window
        var health = provider.GetHealth();
        Assert.Equal((1, 0, 0.0), (health.WindowAttempts, health.WindowFailures, health.ErrorRate));
        Assert.Equal((3, 3), (health.Requests, health.Attempts));
    }

    [Fact]
    public async Task Retries_count_as_attempts_of_one_request()
    {
        var provider = new ResilientProvider(_upstream, RetryTests.Options(), 3, _clock);
        _upstream.Status(503).Status(503).Status(200);
        var call = CallAsync(provider);
        for (var i = 0; i < 2; i++)
        {
            _clock.Advance(await _clock.WaitForTimerAsync(d => d <= TimeSpan.FromSeconds(2)));
        }

        await call;
        var health = provider.GetHealth();
        Assert.Equal((1, 3, 2), (health.Requests, health.Attempts, health.Retries));
    }

    [Fact]
    public async Task Latency_memory_is_bounded_to_the_most_recent_samples()
    {
        var provider = new ResilientProvider(_upstream, RetryTests.Options(), 1, _clock);
        for (var i = 0; i < ProviderHealth.LatencyCapacity + 100; i++)
        {
            _upstream.Status(200, latency: TimeSpan.FromMilliseconds(i < 100 ? 1_000 : 1));
            await CallAsync(provider);
        }

        var health = provider.GetHealth();
        Assert.Equal(ProviderHealth.LatencyCapacity, health.LatencySamples);
        Assert.Equal(1, health.LatencyP99Ms); // the slow early answers were overwritten
    }

    [Fact]
    public void A_provider_without_traffic_reports_no_latency()
    {
        var health = new ResilientProvider(_upstream, RetryTests.Options(), 1, _clock).GetHealth();
        Assert.Equal((0, 0.0, (double?)null, 0), (health.WindowAttempts, health.ErrorRate, health.LatencyP50Ms, health.LatencySamples));
    }
}
