using System.IO.Pipelines;
using RelayCluster.Upstreams.Sse;

namespace RelayCluster.Upstreams.Anthropic;

/// <summary>
/// Runs an Anthropic event stream through the translator on its own task into a pipe, so the relay reads
/// OpenAI SSE as the upstream produces it: each event is translated and flushed on arrival, nothing is
/// buffered beyond the pipe's back-pressure window. Disposing the returned response cancels the pump, which
/// cancels the pending upstream read and closes the upstream connection.
/// </summary>
internal static class AnthropicStreamPump
{
    public static UpstreamResponse Start(Stream upstream, IDisposable? upstreamOwner, AnthropicStreamTranslator translator, CancellationToken cancellationToken)
    {
        var pipe = new Pipe();
        var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _ = Task.Run(() => PumpAsync(upstream, upstreamOwner, translator, pipe.Writer, stop.Token), CancellationToken.None);
        return new UpstreamResponse(200, pipe.Reader.AsStream(), null, new CancelOnDispose(stop));
    }

    private static async Task PumpAsync(Stream upstream, IDisposable? upstreamOwner, AnthropicStreamTranslator translator, PipeWriter writer, CancellationToken cancellationToken)
    {
        try
        {
            await using var events = new SseReader(upstream);
            while (await events.ReadEventAsync(cancellationToken) is { } anthropicEvent)
            {
                var step = translator.Translate(anthropicEvent.Span, writer);
                var flushed = await writer.FlushAsync(cancellationToken);
                if (step != StreamStep.Continue || flushed.IsCompleted)
                {
                    break; // the end of the answer, or the relay stopped reading
                }
            }

            await writer.CompleteAsync();
        }
        catch (OperationCanceledException ex)
        {
            await writer.CompleteAsync(new IOException("The Anthropic upstream call was cancelled.", ex));
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException or ObjectDisposedException)
        {
            // A dropped connection must first deliver what was translated (a pipe completed with an exception
            // discards it), then end without [DONE]: the relay reports that as a truncated stream.
            await writer.CompleteAsync();
        }
        catch (Exception ex)
        {
            await writer.CompleteAsync(ex); // never leave the relay waiting on a pipe nobody will complete
        }
        finally
        {
            upstreamOwner?.Dispose();
        }
    }

    private sealed class CancelOnDispose(CancellationTokenSource source) : IDisposable
    {
        public void Dispose()
        {
            source.Cancel();
            source.Dispose();
        }
    }
}
