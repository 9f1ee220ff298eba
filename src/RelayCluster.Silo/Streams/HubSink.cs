using System.Text.Json;
using System.Threading.Channels;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Api;
using RelayCluster.Silo.Relay;

namespace RelayCluster.Silo.Streams;

/// <summary>
/// A streamed completion delivered as SignalR stream items: each upstream chunk as its JSON object, and a
/// failure as one last <c>{"error": {…}, "status": N}</c> item, the envelope an HTTP caller would have got.
/// The queue is bounded, so a slow hub client slows its own upstream call (as a slow SSE reader would), and
/// nobody else's; a client that takes nothing for the send deadline ends the call as disconnected.
/// </summary>
internal sealed class HubSink(SendDeadline deadline, CancellationToken aborted) : IStreamSink
{
    private readonly Channel<JsonElement> _items = Channel.CreateBounded<JsonElement>(
        new BoundedChannelOptions(64) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });

    public CancellationToken Aborted => aborted;

    public bool IsCommitted { get; private set; }

    public ChannelReader<JsonElement> Items => _items.Reader;

    public ValueTask CommitAsync()
    {
        IsCommitted = true;
        return ValueTask.CompletedTask;
    }

    // SignalR keeps the connection alive with its own pings.
    public ValueTask HeartbeatAsync() => ValueTask.CompletedTask;

    public ValueTask WriteChunkAsync(ReadOnlyMemory<byte> payload)
    {
        using var chunk = JsonDocument.Parse(payload);
        return deadline.WithinAsync(_items.Writer.WriteAsync(chunk.RootElement.Clone(), aborted));
    }

    // Each chunk is queued as it is written.
    public ValueTask FlushAsync() => ValueTask.CompletedTask;

    public ValueTask CompleteAsync()
    {
        _items.Writer.TryComplete();
        return ValueTask.CompletedTask;
    }

    public async ValueTask FailAsync(RelayError error)
    {
        await deadline.WithinAsync(_items.Writer.WriteAsync(ErrorItem(error), aborted));
        _items.Writer.TryComplete();
    }

    /// <summary>Ends the item stream whatever happened, so the hub's reader never waits for an ended call.</summary>
    public void Close() => _items.Writer.TryComplete();

    public static JsonElement ErrorItem(RelayError error)
    {
        var item = JsonSerializer.SerializeToNode(new OpenAiErrorEnvelope(error.Error), SiloJsonContext.Default.OpenAiErrorEnvelope)!.AsObject();
        item["status"] = error.Status;
        if (error.RetryAfter is { } retryAfter)
        {
            item["retry_after_ms"] = Math.Max(1, (long)Math.Ceiling(retryAfter.TotalMilliseconds));
        }

        using var document = JsonDocument.Parse(item.ToJsonString());
        return document.RootElement.Clone();
    }
}
