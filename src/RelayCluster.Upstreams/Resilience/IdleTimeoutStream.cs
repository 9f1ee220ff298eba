namespace RelayCluster.Upstreams.Resilience;

/// <summary>
/// An upstream body whose reads fail with <see cref="UpstreamIdleTimeoutException"/> when no byte arrives
/// for <c>timeout</c>. The clock restarts with every read, so only silence is bounded, never the length
/// of a healthy stream. Owns the upstream response: disposing the stream ends the upstream call.
/// </summary>
/// <remarks>
/// One timer for the life of the stream (a <see cref="CancellationTokenSource"/> on the injected
/// <see cref="TimeProvider"/>, re-armed per read) rather than one per read, since a stream reads once a
/// token. Asynchronous reads only are watched: the relay never reads an upstream synchronously.
/// </remarks>
internal sealed class IdleTimeoutStream(UpstreamResponse upstream, TimeSpan timeout, TimeProvider time) : Stream
{
    private readonly Stream _inner = upstream.Body;
    private readonly CancellationTokenSource _idle = new(Timeout.InfiniteTimeSpan, time);
    private int _disposed;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_idle.IsCancellationRequested)
        {
            // A timed-out read tore the upstream call down; the stream cannot be resumed.
            cancellationToken.ThrowIfCancellationRequested();
            throw new UpstreamIdleTimeoutException(timeout);
        }

        // The caller's token cancels the same source, so one token reaches the inner read.
        using var link = cancellationToken.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), _idle);
        _idle.CancelAfter(timeout);
        try
        {
            return await _inner.ReadAsync(buffer, _idle.Token);
        }
        catch (Exception ex) when (_idle.IsCancellationRequested && ex is not UpstreamIdleTimeoutException)
        {
            // Cancelled reads surface as OperationCanceledException or, from some handlers, IOException.
            cancellationToken.ThrowIfCancellationRequested();
            throw new UpstreamIdleTimeoutException(timeout, ex);
        }
        finally
        {
            if (!_idle.IsCancellationRequested)
            {
                _idle.CancelAfter(Timeout.InfiniteTimeSpan);
            }
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await upstream.DisposeAsync();
            _idle.Dispose();
        }

        await base.DisposeAsync();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            // Synchronous disposal (rare: the relay disposes asynchronously) still ends the upstream call.
            upstream.DisposeAsync().AsTask().GetAwaiter().GetResult();
            _idle.Dispose();
        }

        base.Dispose(disposing);
    }
}
