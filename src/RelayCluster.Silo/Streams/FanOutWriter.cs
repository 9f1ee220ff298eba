using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Streams;
using RelayCluster.Core.Wire;

namespace RelayCluster.Silo.Streams;

/// <summary>
/// Copies one completion into its stream channel for SignalR subscribers. The relay only enqueues (never
/// waits on the store or on subscribers); one pump appends in order. Whatever the ending, the stream gets
/// exactly one terminal entry: completed (finish reason and usage) or failed (the ending and error).
/// Opening the channel (recording its owner, a store round trip) runs alongside the upstream call rather than
/// before it, so fan-out adds nothing to the caller's time to first token; the response only waits for it
/// before its headers go out (<see cref="Opened"/>), so a stream id a caller sees can always get a token.
/// </summary>
internal sealed partial class FanOutWriter
{
    private readonly Channel<(StreamEntryKind Kind, string Data)> _queue =
        Channel.CreateUnbounded<(StreamEntryKind, string)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    private FanOutWriter(string streamId, IStreamChannel channel, Task opening, ILogger logger)
    {
        StreamId = streamId;
        Opened = opening.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        _ = PumpAsync(channel, opening, logger);
    }

    public string StreamId { get; }

    /// <summary>The finish reason of the first choice, once a chunk carried it.</summary>
    public string? FinishReason { get; private set; }

    /// <summary>Completes when the channel's owner is recorded, or opening it failed (the pump logs that); never faults.</summary>
    public Task Opened { get; }

    /// <summary>Starts opening a new stream for the tenant; appends wait for the opening, the caller does not.</summary>
    public static FanOutWriter Open(IStreamChannelFactory channels, string tenantId, ILogger logger)
    {
        var streamId = StreamIds.New();
        var channel = channels.GetChannel(streamId);
        return new FanOutWriter(streamId, channel, channel.OpenAsync(tenantId).AsTask(), logger);
    }

    /// <summary>Takes the text of a chunk (<c>choices[0].delta</c>) or of a whole answer (<c>choices[0].message</c>).</summary>
    public void Observe(ReadOnlySpan<byte> json)
    {
        try
        {
            using var document = JsonDocument.Parse(json.ToArray());
            if (!document.RootElement.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array || choices.GetArrayLength() == 0)
            {
                return;
            }

            var choice = choices[0];
            var body = choice.TryGetProperty("delta", out var delta) ? delta : choice.TryGetProperty("message", out var message) ? message : default;
            if (body.ValueKind == JsonValueKind.Object && body.TryGetProperty("content", out var content)
                && content.ValueKind == JsonValueKind.String && content.GetString() is { Length: > 0 } text)
            {
                _queue.Writer.TryWrite((StreamEntryKind.Token, text));
            }

            if (choice.TryGetProperty("finish_reason", out var finish) && finish.ValueKind == JsonValueKind.String)
            {
                FinishReason = finish.GetString();
            }
        }
        catch (JsonException)
        {
            // Not a chunk the relay understands: subscribers get what they can.
        }
    }

    /// <summary>Ends the stream for subscribers with the request's ending; called once, by the pipeline.</summary>
    public void End(string ending, ReportedUsage? usage)
    {
        var entry = ending == Endings.Completed
            ? (StreamEntryKind.Completed, new JsonObject
            {
                ["finish_reason"] = FinishReason,
                ["usage"] = usage is { } u ? new JsonObject
                {
                    ["prompt_tokens"] = u.PromptTokens, ["completion_tokens"] = u.CompletionTokens, ["total_tokens"] = u.PromptTokens + u.CompletionTokens,
                } : null,
            })
            : (StreamEntryKind.Failed, new JsonObject { ["error"] = new JsonObject { ["code"] = ending, ["message"] = $"The completion ended: {ending}." } });
        _queue.Writer.TryWrite((entry.Item1, entry.Item2.ToJsonString()));
        _queue.Writer.TryComplete();
    }

    private async Task PumpAsync(IStreamChannel channel, Task opening, ILogger logger)
    {
        try
        {
            await opening;
            await foreach (var (kind, data) in _queue.Reader.ReadAllAsync())
            {
                await channel.AppendAsync(kind, data);
            }
        }
        catch (Exception ex) when (ex is Core.Tenants.StoreUnavailableException or InvalidOperationException)
        {
            // Subscribers lose the rest of this stream; the caller's own response is unaffected.
            Log.FanOutFailed(logger, StreamId, ex);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Fan-out of stream {StreamId} stopped")]
        public static partial void FanOutFailed(ILogger logger, string streamId, Exception exception);
    }
}
