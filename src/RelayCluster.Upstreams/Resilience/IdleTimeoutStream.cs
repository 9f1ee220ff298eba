using System.Runtime.CompilerServices;
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
    private int _reading;
    private int _sourceDisposed;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_idle.IsCancellationRequested)
        {
            // A timed-out read tore the upstream call down; the stream cannot be resumed.
            cancellationToken.ThrowIfCancellationRequested();
            throw new UpstreamIdleTimeoutException(timeout);
        }

        // Counted as reading before disposal is checked: a disposal racing with this start then either sees the
        // read (and leaves the source to it) or is seen here (and the read never touches the source).
        Interlocked.Increment(ref _reading);
        if (Volatile.Read(ref _disposed) == 1)
        {
            EndRead();
            throw new ObjectDisposedException(nameof(IdleTimeoutStream));
        }

        // The caller's token cancels the same source, so one token reaches the inner read. The registration is
        // disposed (waiting for a callback under way) before the read counts as ended, so the callback never meets a
        // disposed source.
        var link = cancellationToken.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), _idle);
        try
        {
            _idle.CancelAfter(timeout);
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
            await link.DisposeAsync();
            if (!_idle.IsCancellationRequested)
            {
                _idle.CancelAfter(Timeout.InfiniteTimeSpan);
            }

            EndRead();
        }
    }

    /// <summary>Ends a read; disposal during it left the source to it (full fences on both sides: one sees the other).</summary>
    private void EndRead()
    {
        if (Interlocked.Decrement(ref _reading) == 0 && Volatile.Read(ref _disposed) == 1)
        {
            DisposeSource();
        }
    }

    /// <summary>Disposes the idle source once, when no read can use it any more.</summary>
    private void DisposeSource()
    {
        if (Interlocked.Exchange(ref _sourceDisposed, 1) == 0)
        {
            _idle.Dispose();
        }
    }

    private void DisposeSourceUnlessReading()
    {
        if (Volatile.Read(ref _reading) == 0)
        {
            DisposeSource();
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
            DisposeSourceUnlessReading();
        }

        await base.DisposeAsync();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            // Synchronous disposal (rare: the relay disposes asynchronously) still ends the upstream call.
            upstream.DisposeAsync().AsTask().GetAwaiter().GetResult();
            DisposeSourceUnlessReading();
        }

        base.Dispose(disposing);
    }
}
