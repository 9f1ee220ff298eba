using System.Runtime.CompilerServices;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Streams;
using RelayCluster.Upstreams;
using RelayCluster.Upstreams.Sse;

namespace RelayCluster.Silo.Relay;

/// <summary>
/// Relays a streamed chat completion to a sink (SSE or the completions hub) as it is produced.
/// <code>
///  send upstream (target after target, see ModelCall) ──(no answer within a heartbeat)──► sink heartbeat (SSE: commit 200 + ": keep-alive")
///       │ answer
///       ├─ non-2xx: a status if not committed yet, else an error event
///       └─ 2xx: commit; for each upstream event:
///             [DONE]        → settle(completed) while the sink completes
///             {"error":…}   → settle(upstream error), an error event with its message, end (no clean end)
///             not a chunk   → the same, as upstream_invalid_response (the first event was vetted before the commit)
///             usage chunk   → record usage; forward only if the caller asked for it
///             other chunk   → count output, forward unchanged (on one line)
///             empty data    → read past, like a comment
///             event > 8 MiB → the same as not a chunk (the reader holds one event whole, so it is bounded)
///             end of stream → settle(truncated), error event (never a clean end)
///             silence       → a heartbeat every interval
///  receiver gone at any point → cancel the upstream call, settle(client disconnected) with what was produced
/// </code>
/// Chunks are forwarded byte for byte, except that one spread over several <c>data:</c> lines goes out on one
/// (<see cref="SseFrame.OneLine"/>); nothing is re-serialized.
/// </summary>
internal sealed class StreamingRelay(IStreamSink sink, AdmittedRequest admitted, TimeSpan heartbeat, TimeProvider time, FanOutWriter? fanOut)
{
    private readonly CancellationToken _aborted = sink.Aborted;

    public async Task RelayAsync(ModelCall call)
    {
        try
        {
            UpstreamResponse upstream;
            try
            {
                // Fallbacks happen inside SendAsync, before the first chunk; heartbeats meanwhile carry no content.
                upstream = await WithHeartbeatsAsync(call.SendAsync(_aborted));
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
                await sink.CommitAsync();
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
                next = await NextEventAsync(events);
            }
            catch (SseEventTooLargeException ex) when (!_aborted.IsCancellationRequested)
            {
                await FailAsync(new RelayError(502, UpstreamAnswers.Invalid(ex.Message)), Endings.UpstreamErrorMidStream);
                return;
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

            if (UpstreamAnswers.IsDone(payload.Span))
            {
                // As for a whole body: the settle turn runs while the end goes out, not before it.
                var settling = admitted.SettleAsync(Endings.Completed, 200);
                try
                {
                    await sink.CompleteAsync();
                }
                finally
                {
                    await settling;
                }

                return;
            }

            if (payload.IsEmpty)
            {
                // Legal SSE (a bare "data:") but no chunk: relayed, it would make the SDKs' JSON.parse throw. Some
                // upstreams send it to keep a connection busy, so it is read past like a comment.
                continue;
            }

            // One pass reads what the relay acts on and vouches for an ordinary chunk; only a chunk it cannot vouch for
            // is judged by the full rule.
            var facts = ChunkInspector.Inspect(payload.Span);
            if (!facts.IsChunk && UpstreamAnswers.ProblemWithChunk(payload.Span) is { } problem)
            {
                // The first event was vetted before the commit; a later error or non-chunk ends the stream with the
                // relay's own error event (the OpenAI envelope the SDKs throw on), and no [DONE].
                await FailAsync(new RelayError(502, problem), Endings.UpstreamErrorMidStream);
                return;
            }

            payload = SseFrame.OneLine(payload);

            admitted.Observe(facts);
            admitted.Capture(payload.Span);
            fanOut?.Observe(payload.Span);
            var isUsageOnly = facts.Usage is not null && !facts.HasChoices;
            if (!isUsageOnly || admitted.Request.IncludeUsage)
            {
                await sink.WriteChunkAsync(payload);
            }
        }
    }

    /// <summary>
    /// The upstream's next event. Chunks written so far are flushed only when it is not already at hand, so a burst of
    /// chunks costs one send to the client, and no chunk waits on the upstream: the CPU profile of 16-chunk streams had
    /// the send system call of each chunk's flush at 8 % of a silo's CPU.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadOnlyMemory<byte>?> NextEventAsync(SseReader events)
    {
        var pending = events.ReadEventAsync(_aborted);
        if (pending.IsCompletedSuccessfully)
        {
            return pending.Result;
        }

        await sink.FlushAsync();
        return await WaitWithHeartbeatsAsync(pending.AsTask());
    }

    private async Task FailAsync(RelayError error, string ending)
    {
        await admitted.SettleAsync(ending, sink.IsCommitted ? 200 : error.Status);
        await sink.FailAsync(error);
    }

    /// <summary>
    /// Waits for <paramref name="pending"/>, sending a heartbeat for every silent interval. An event already read
    /// (chunks often arrive several to a packet) is returned at once: the timed wait costs a task, a timer and a
    /// cancellation registration per event, which the CPU profile showed on every chunk of every stream.
    /// </summary>
    private ValueTask<T> WithHeartbeatsAsync<T>(ValueTask<T> pending) =>
        pending.IsCompletedSuccessfully ? new ValueTask<T>(pending.Result) : new ValueTask<T>(WaitWithHeartbeatsAsync(pending.AsTask()));

    private async Task<T> WaitWithHeartbeatsAsync<T>(Task<T> pending)
    {
        while (true)
        {
            try
            {
                return await pending.WaitAsync(heartbeat, time, _aborted);
            }
            catch (TimeoutException)
            {
                await sink.HeartbeatAsync();
            }
        }
    }
}
