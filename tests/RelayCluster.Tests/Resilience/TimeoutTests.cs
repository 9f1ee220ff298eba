using RelayCluster.Upstreams.Resilience;

namespace RelayCluster.Tests.Resilience;

/// <summary>The first-byte timeout (per attempt, retried) and the idle timeout on the body (reset by progress).</summary>
public sealed class TimeoutTests
{
    private readonly FakeClock _clock = new();
    private readonly ScriptedProvider _upstream;

    public TimeoutTests() => _upstream = new ScriptedProvider(_clock);

    private ResilientProvider Resilient(int maxAttempts = 3) =>
        new(_upstream, RetryTests.Options(o => o.FirstByteTimeoutSeconds = 5), maxAttempts, _clock);

    [Fact]
    public async Task An_upstream_silent_past_the_first_byte_timeout_is_cut_and_retried()
    {
        _upstream.Hang().Status(200);
        var call = Resilient().SendAsync(ScriptedProvider.Request(stream: true), default).AsTask();

        _clock.Advance(await _clock.WaitForTimerAsync(d => d == TimeSpan.FromSeconds(5)));
        Assert.True(_upstream.HangingTokens[0].IsCancellationRequested); // the stalled attempt was abandoned
        _clock.Advance(await _clock.WaitForTimerAsync(d => d <= TimeSpan.FromSeconds(2)));
        await using var response = await call;

        Assert.Equal((200, 2), (response.StatusCode, response.Attempts));
    }

    [Fact]
    public async Task First_byte_timeouts_on_every_attempt_surface_as_unavailable()
    {
        _upstream.Hang();
        var call = Resilient(maxAttempts: 1).SendAsync(ScriptedProvider.Request(stream: true), default).AsTask();
        _clock.Advance(await _clock.WaitForTimerAsync(d => d == TimeSpan.FromSeconds(5)));

        var error = await Assert.ThrowsAsync<UpstreamFirstByteTimeoutException>(() => call);
        Assert.Equal(TimeSpan.FromSeconds(5), error.Timeout);
    }

    [Fact]
    public async Task A_non_streaming_request_gets_its_own_longer_first_byte_timeout()
    {
        _upstream.Hang();
        var call = Resilient(maxAttempts: 1).SendAsync(ScriptedProvider.Request(stream: false), default).AsTask();

        // Its headers come only after the whole completion: the streaming 5 s would cut healthy calls.
        _clock.Advance(await _clock.WaitForTimerAsync(d => d == TimeSpan.FromSeconds(60)));
        await Assert.ThrowsAsync<UpstreamFirstByteTimeoutException>(() => call);
    }

    [Fact]
    public async Task The_first_byte_timer_stops_once_the_headers_are_in()
    {
        var (body, writer) = ScriptedProvider.Trickle();
        _upstream.Body(body);
        await using var response = await Resilient().SendAsync(ScriptedProvider.Request(stream: true), default);

        Assert.DoesNotContain(TimeSpan.FromSeconds(5), _clock.PendingDelays());
        await writer.CompleteAsync();
    }

    [Fact]
    public async Task A_body_silent_for_the_idle_timeout_fails_with_an_io_error()
    {
        var (body, writer) = ScriptedProvider.Trickle();
        _upstream.Body(body);
        await using var response = await Resilient().SendAsync(ScriptedProvider.Request(stream: true), default);

        var buffer = new byte[16];
        await writer.WriteAsync("data: {}\n\n"u8.ToArray());
        Assert.Equal(10, await response.Body.ReadAsync(buffer));

        var read = response.Body.ReadAsync(buffer).AsTask();
        _clock.Advance(await _clock.WaitForTimerAsync(d => d == TimeSpan.FromSeconds(10)));
        var error = await Assert.ThrowsAsync<UpstreamIdleTimeoutException>(() => read);
        Assert.IsAssignableFrom<IOException>(error); // what the relay already treats as a dropped upstream
    }

    [Fact]
    public async Task A_slow_stream_that_keeps_making_progress_is_never_cut()
    {
        var (body, writer) = ScriptedProvider.Trickle();
        _upstream.Body(body);
        await using var response = await Resilient().SendAsync(ScriptedProvider.Request(stream: true), default);

        var buffer = new byte[16];
        for (var i = 0; i < 8; i++)
        {
            var read = response.Body.ReadAsync(buffer).AsTask();
            await _clock.WaitForTimerAsync(d => d == TimeSpan.FromSeconds(10)); // re-armed in full at every read
            _clock.Advance(TimeSpan.FromSeconds(9)); // silent for just under the idle timeout…
            await writer.WriteAsync(new byte[] { (byte)'x' }); // …then a byte
            Assert.Equal(1, await read);
        }

        await writer.CompleteAsync();
        Assert.Equal(0, await response.Body.ReadAsync(buffer));
        Assert.Equal(TimeSpan.FromSeconds(72), _clock.Elapsed); // far longer than the idle timeout: no total limit
    }

    [Fact]
    public async Task Cancelling_a_read_is_a_cancellation_not_an_idle_timeout()
    {
        var (body, _) = ScriptedProvider.Trickle();
        _upstream.Body(body);
        await using var response = await Resilient().SendAsync(ScriptedProvider.Request(stream: true), default);

        using var cancel = new CancellationTokenSource();
        var read = response.Body.ReadAsync(new byte[16], cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => read);
    }

    [Fact]
    public async Task Disposing_the_response_ends_the_upstream_call()
    {
        var (body, _) = ScriptedProvider.Trickle();
        _upstream.Body(body);
        var response = await Resilient().SendAsync(ScriptedProvider.Request(stream: true), default);

        await response.DisposeAsync();
        Assert.True(_upstream.Responses[0].Disposed);
        Assert.Empty(_clock.PendingDelays()); // no timer of this call is left armed
    }
}
