using System.Buffers;
using System.Runtime.CompilerServices;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Http;
using RelayCluster.Upstreams.Sse;

namespace RelayCluster.Silo.Relay;

/// <summary>
/// A call's HTTP response. Streams go out as SSE (chunks as <c>data:</c> events, flushed whenever the relay waits for
/// the upstream, so chunks that arrived together share one send); for a
/// buffered call only the failure path is used, as a status response while nothing has been sent. Every send has a
/// deadline (<see cref="SendDeadline"/>): a client that stops reading is cut off and the call ends as disconnected.
/// </summary>
internal sealed class HttpSink : IStreamSink
{
    private static readonly byte[] Heartbeat = ": keep-alive\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    /// <summary>
    /// Chunks written but not flushed, at most, in bytes: a burst of chunks already read from the upstream goes out in
    /// one send (one system call instead of one per chunk), but no more than this is held in memory for it.
    /// </summary>
    private const int MaxUnflushedBytes = 16 * 1024;

    private readonly HttpContext _context;
    private SendDeadline? _deadline;
    private CancellationTokenSource? _stop;
    private int _unflushed;

    public HttpSink(HttpContext context) => _context = context;

    /// <summary>The client left, or stopped reading (cancelled by the send deadline before the server notices).</summary>
    public CancellationToken Aborted => Stop().Token;

    /// <summary>
    /// The deadline every send goes through. Made at the first use: a buffered call touches its sink only when it fails,
    /// so the usual answer pays for no linked token source, registration or deadline.
    /// </summary>
    private SendDeadline Deadline
    {
        get
        {
            Stop();
            return _deadline!;
        }
    }

    private CancellationTokenSource Stop()
    {
        if (_stop is null)
        {
            // Linked to RequestAborted, so a token asked for after the client left is already cancelled.
            _stop = CancellationTokenSource.CreateLinkedTokenSource(_context.RequestAborted);
            _context.Response.RegisterForDispose(_stop);
            _deadline = SendDeadline.For(_context, _stop);
        }

        return _stop;
    }

    private bool _streaming;

    public bool IsCommitted => _streaming || _context.Response.HasStarted;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask CommitAsync()
    {
        if (_streaming)
        {
            return;
        }

        _streaming = true;
        var response = _context.Response;
        response.StatusCode = 200;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        await Deadline.WithinAsync(new ValueTask(response.StartAsync(Aborted)));

        // StartAsync only buffers the headers; flushing sends them now, so the caller holds the response
        // (and its x-relay-stream-id) at once, not when the first token arrives.
        await Deadline.WithinAsync(response.BodyWriter.FlushAsync(Aborted));
    }

    public async ValueTask HeartbeatAsync()
    {
        // Committing here means a later upstream error becomes an error event rather than a status, the
        // price of keeping idle proxies from cutting a slow first token.
        await CommitAsync();
        await Deadline.WithinAsync(_context.Response.BodyWriter.WriteAsync(Heartbeat, Aborted));
    }

    public ValueTask WriteChunkAsync(ReadOnlyMemory<byte> payload)
    {
        // One data line per line of the payload: valid SSE for any payload (the relay sends chunks on one line).
        var writer = _context.Response.BodyWriter;
        SseFrame.WriteData(writer, payload.Span);
        _unflushed += payload.Length;
        return _unflushed >= MaxUnflushedBytes ? FlushAsync() : ValueTask.CompletedTask;
    }

    public ValueTask FlushAsync()
    {
        if (_unflushed == 0)
        {
            return ValueTask.CompletedTask;
        }

        _unflushed = 0;
        return Deadline.WithinAsync(_context.Response.BodyWriter.FlushAsync(Aborted));
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask CompleteAsync()
    {
        // Completing the response sends the last chunk now; otherwise the caller would wait for the handler.
        await Deadline.WithinAsync(_context.Response.BodyWriter.WriteAsync(Done, Aborted));
        await Deadline.WithinAsync(new ValueTask(_context.Response.CompleteAsync()));
    }

    public async ValueTask FailAsync(RelayError error)
    {
        if (_streaming)
        {
            await Deadline.WithinAsync(_context.Response.BodyWriter.WriteAsync(ErrorResponses.AsSseEvent(error.Error), Aborted));
        }
        else if (!_context.Response.HasStarted)
        {
            await Deadline.WithinAsync(new ValueTask(ErrorResponses.WriteAsync(_context, error)));
        }
    }
}
