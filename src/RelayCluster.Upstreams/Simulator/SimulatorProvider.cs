using System.IO.Pipelines;
using RelayCluster.Core.Wire;

namespace RelayCluster.Upstreams.Simulator;

/// <summary>
/// The built-in <c>simulator</c> provider: the simulator engine in-process, answering through the same
/// <see cref="UpstreamResponse"/> contract as a remote provider (a status and a byte stream), so the
/// relay path it exercises is the one real upstreams take.
/// </summary>
public sealed class SimulatorProvider(string id, SimulatorEngine engine) : IUpstreamProvider
{
    public string Id => id;

    public async ValueTask<UpstreamResponse> SendAsync(UpstreamRequest request, CancellationToken cancellationToken)
    {
        if (request.Operation == RelayOperation.ChatCompletions && SimulatorEngine.RefusalBody(request.Body) is { } refusal)
        {
            return new UpstreamResponse(400, new MemoryStream(refusal, writable: false), null, null);
        }

        var script = engine.ScriptFor(request.Body, request.OutputCap);
        if (script.ErrorStatus is { } status)
        {
            var retryAfter = script.RetryAfterSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : (TimeSpan?)null;
            return new UpstreamResponse(status, new MemoryStream(SimulatorEngine.ErrorBody(status)), retryAfter, null);
        }

        if (request.Operation == RelayOperation.Embeddings)
        {
            await engine.DelayAsync(script.TimeToFirstTokenMs, cancellationToken);
            return Produced((output, token) => engine.WriteEmbeddingsAsync(output, request.Body, script, token), cancellationToken);
        }

        if (!request.Stream)
        {
            var pacing = (long)script.TokenIntervalMs * Math.Max(0, script.OutputTokens - 1);
            await engine.DelayAsync((int)Math.Min(int.MaxValue, script.TimeToFirstTokenMs + pacing), cancellationToken);
            return Produced((output, token) => engine.WriteChatCompletionAsync(output, request.Body, script, token), cancellationToken);
        }

        return Produced((output, token) => engine.WriteChatStreamAsync(output, request.Body, script, token), cancellationToken);
    }

    /// <summary>
    /// A 2xx answer produced on its own task into a pipe, as a remote upstream produces it on its own machine: the
    /// body is made as it is read (never whole in memory), and disposing the response cancels the producer, as
    /// closing a connection would.
    /// </summary>
    private static UpstreamResponse Produced(Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken)
    {
        var pipe = new Pipe();
        var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _ = Task.Run(() => ProduceAsync(pipe.Writer, write, stop.Token), CancellationToken.None);
        return new UpstreamResponse(200, pipe.Reader.AsStream(), null, new CancelOnDispose(stop));
    }

    private static async Task ProduceAsync(PipeWriter writer, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken)
    {
        try
        {
            await write(writer.AsStream(leaveOpen: true), cancellationToken);
            await writer.CompleteAsync();
        }
        catch (SimulatedDropException)
        {
            // A pipe completed with an exception throws at the reader's next read, discarding what is still
            // buffered; a dropped connection must first deliver what was sent, so the drop ends the stream.
            // The relay treats an end without [DONE] exactly as it treats a reset connection.
            await writer.CompleteAsync();
        }
        catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException)
        {
            await writer.CompleteAsync(new IOException("The simulated upstream call was cancelled.", ex));
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
