namespace RelayCluster.Upstreams.Resilience;

/// <summary>
/// The token one attempt hands its provider: cancelled by the caller, or by the first-byte timer until
/// the headers arrive. It lives as long as the response, not just the attempt, because providers may tie
/// the body's lifetime to it (the simulator's producer does); a token disposed or reset at the end of
/// the attempt would leave a streamed body deaf to the caller's cancellation.
/// </summary>
internal sealed class AttemptScope : IDisposable
{
    private readonly CancellationToken _caller;
    private readonly CancellationTokenSource _source;
    private readonly CancellationTokenRegistration _link;
    private int _disposed;

    public AttemptScope(TimeSpan firstByteTimeout, TimeProvider time, CancellationToken caller)
    {
        _caller = caller;
        _source = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        _link = caller.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), _source);
        if (firstByteTimeout > TimeSpan.Zero)
        {
            _source.CancelAfter(firstByteTimeout);
        }
    }

    public CancellationToken Token => _source.Token;

    /// <summary>The timer, not the caller, cancelled the attempt.</summary>
    public bool TimedOut => _source.IsCancellationRequested && !_caller.IsCancellationRequested;

    /// <summary>Stops the first-byte timer once the headers are in. False if it had already fired.</summary>
    public bool Disarm()
    {
        if (_source.IsCancellationRequested)
        {
            return !TimedOut;
        }

        _source.CancelAfter(Timeout.InfiniteTimeSpan);
        return !TimedOut;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            // Unlink first: a caller cancelling now must not reach a disposed source.
            _link.Dispose();
            _source.Dispose();
        }
    }
}
