using System.Buffers;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Http;
using RelayCluster.Silo.Streams;
using RelayCluster.Upstreams;
using RelayCluster.Upstreams.Sse;

namespace RelayCluster.Silo.Relay;

/// <summary>
/// Relays an SSE chat completion as it is produced.
/// <code>
///  send upstream ──(no answer within a heartbeat)──► commit 200 + ": keep-alive"
///       │ answer
///       ├─ non-2xx: HTTP error if not committed yet, else an error event
///       └─ 2xx: commit; for each upstream event:
///             [DONE]        → settle(completed), forward [DONE]
///             {"error":…}   → settle(upstream error), forward it, end (no [DONE])
///             usage chunk   → record usage; forward only if the caller asked for it
///             other chunk   → count output, forward unchanged and flush
///             end of stream → settle(truncated), error event (never a clean [DONE])
///             silence       → ": keep-alive" every heartbeat
///  client gone at any point → cancel the upstream call, settle(client disconnected) with what was produced
/// </code>
/// Chunks are forwarded byte for byte; nothing is re-serialized.
/// </summary>
internal sealed class StreamingRelay(HttpContext context, AdmittedRequest admitted, TimeSpan heartbeat, TimeProvider time, FanOutWriter? fanOut)
{
    private static readonly byte[] Heartbeat = ": keep-alive\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    private readonly CancellationToken _aborted = context.RequestAborted;
    private bool _committed;

    public async Task RelayAsync(IUpstreamProvider provider, UpstreamRequest request)
    {
        try
        {
            UpstreamResponse upstream;
            try
            {
                upstream = await WithHeartbeatsAsync(provider.SendAsync(request, _aborted).AsTask());
            }
            catch (UpstreamUnavailableException ex)
            {
                await FailAsync(RelayError.UpstreamUnavailable(ex.Message), Endings.UpstreamError);
                return;
            }

            await using (upstream)
            {
                if (!upstream.IsSuccess)
                {
                    var body = await BufferedRelay.ReadAllAsync(upstream.Body, _aborted);
                    await FailAsync(UpstreamErrors.Map(upstream.StatusCode, body, upstream.RetryAfter), Endings.UpstreamError);
                    return;
                }

                admitted.MarkUpstreamAccepted();
                await CommitAsync();
                await using var events = new SseReader(upstream.Body);
                await PumpAsync(events);
            }
        }
        catch (OperationCanceledException) when (_aborted.IsCancellationRequested)
        {
            await admitted.SettleAsync(Endings.ClientDisconnected, 499);
        }
    }

    private async Task PumpAsync(SseReader events)
    {
        while (true)
        {
            ReadOnlyMemory<byte>? next;
            try
            {
                next = await WithHeartbeatsAsync(events.ReadEventAsync(_aborted).AsTask());
            }
            catch (IOException) when (!_aborted.IsCancellationRequested)
            {
                next = null; // the upstream connection dropped: the same as ending without [DONE]
            }

            if (next is not { } payload)
            {
                await FailAsync(new RelayError(502, new OpenAiError(
                    "The upstream stream ended before the completion was finished.", "server_error", null, "upstream_truncated")), Endings.UpstreamTruncated);
                return;
            }

            if (payload.Span.SequenceEqual("[DONE]"u8))
            {
                // As for a whole body: the settle turn runs while [DONE] goes out, not before it. Completing
                // the response sends the last chunk now; otherwise the caller would wait for the handler.
                var settling = admitted.SettleAsync(Endings.Completed, 200);
                try
                {
                    await WriteAsync(Done);
                    await context.Response.CompleteAsync();
                }
                finally
                {
                    await settling;
                }

                return;
            }

            var facts = ChunkInspector.Inspect(payload.Span);
            if (facts.IsError)
            {
                await admitted.SettleAsync(Endings.UpstreamErrorMidStream, 200);
                await WriteEventAsync(payload);
                return;
            }

            admitted.Observe(facts);
            fanOut?.Observe(payload.Span);
            var isUsageOnly = facts.Usage is not null && !facts.HasChoices;
            if (!isUsageOnly || admitted.Request.IncludeUsage)
            {
                await WriteEventAsync(payload);
            }
        }
    }

    private async Task FailAsync(RelayError error, string ending)
    {
        await admitted.SettleAsync(ending, _committed ? 200 : error.Status);
        if (_committed)
        {
            await WriteAsync(ErrorResponses.AsSseEvent(error.Error));
        }
        else
        {
            await ErrorResponses.WriteAsync(context, error);
        }
    }

    /// <summary>Waits for <paramref name="pending"/>, sending a heartbeat comment for every silent interval.</summary>
    private async Task<T> WithHeartbeatsAsync<T>(Task<T> pending)
    {
        while (true)
        {
            try
            {
                return await pending.WaitAsync(heartbeat, time, _aborted);
            }
            catch (TimeoutException)
            {
                // Committing here means a later upstream error becomes an error event rather than a
                // status, the price of keeping idle proxies from cutting a slow first token.
                await CommitAsync();
                await WriteAsync(Heartbeat);
            }
        }
    }

    private async Task CommitAsync()
    {
        if (_committed)
        {
            return;
        }

        _committed = true;
        var response = context.Response;
        response.StatusCode = 200;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        await response.StartAsync(_aborted);

        // StartAsync only buffers the headers; flushing sends them now, so the caller holds the response
        // (and its x-relay-stream-id) at once, not when the first token arrives.
        await response.BodyWriter.FlushAsync(_aborted);
    }

    private async Task WriteEventAsync(ReadOnlyMemory<byte> payload)
    {
        var writer = context.Response.BodyWriter;
        writer.Write("data: "u8);
        writer.Write(payload.Span);
        writer.Write("\n\n"u8);
        await writer.FlushAsync(_aborted);
    }

    private async Task WriteAsync(byte[] bytes)
    {
        await context.Response.BodyWriter.WriteAsync(bytes, _aborted);
    }
}
