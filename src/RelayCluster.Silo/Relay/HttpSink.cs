using System.Buffers;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Http;

namespace RelayCluster.Silo.Relay;

/// <summary>
/// A call's HTTP response. Streams go out as SSE (chunks as <c>data:</c> events, flushed one by one); for a
/// buffered call only the failure path is used, as a status response while nothing has been sent.
/// </summary>
internal sealed class HttpSink(HttpContext context) : IStreamSink
{
    private static readonly byte[] Heartbeat = ": keep-alive\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    public CancellationToken Aborted { get; } = context.RequestAborted;

    private bool _streaming;

    public bool IsCommitted => _streaming || context.Response.HasStarted;

    public async ValueTask CommitAsync()
    {
        if (_streaming)
        {
            return;
        }

        _streaming = true;
        var response = context.Response;
        response.StatusCode = 200;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        await response.StartAsync(Aborted);

        // StartAsync only buffers the headers; flushing sends them now, so the caller holds the response
        // (and its x-relay-stream-id) at once, not when the first token arrives.
        await response.BodyWriter.FlushAsync(Aborted);
    }

    public async ValueTask HeartbeatAsync()
    {
        // Committing here means a later upstream error becomes an error event rather than a status, the
        // price of keeping idle proxies from cutting a slow first token.
        await CommitAsync();
        await context.Response.BodyWriter.WriteAsync(Heartbeat, Aborted);
    }

    public async ValueTask WriteChunkAsync(ReadOnlyMemory<byte> payload)
    {
        var writer = context.Response.BodyWriter;
        writer.Write("data: "u8);
        writer.Write(payload.Span);
        writer.Write("\n\n"u8);
        await writer.FlushAsync(Aborted);
    }

    public async ValueTask CompleteAsync()
    {
        // Completing the response sends the last chunk now; otherwise the caller would wait for the handler.
        await context.Response.BodyWriter.WriteAsync(Done, Aborted);
        await context.Response.CompleteAsync();
    }

    public async ValueTask FailAsync(RelayError error)
    {
        if (_streaming)
        {
            await context.Response.BodyWriter.WriteAsync(ErrorResponses.AsSseEvent(error.Error), Aborted);
        }
        else if (!context.Response.HasStarted)
        {
            await ErrorResponses.WriteAsync(context, error);
        }
    }
}
