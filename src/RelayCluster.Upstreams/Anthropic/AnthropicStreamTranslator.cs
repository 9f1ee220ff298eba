using System.Buffers;
using System.Text.Json;

using static RelayCluster.Upstreams.Anthropic.AnthropicWire;

namespace RelayCluster.Upstreams.Anthropic;

internal enum StreamStep
{
    Continue,

    /// <summary><c>message_stop</c>: the usage chunk (if asked for) and <c>[DONE]</c> were written.</summary>
    Completed,

    /// <summary>An <c>error</c> event: an OpenAI error event was written, and nothing may follow it.</summary>
    Failed,
}

/// <summary>
/// Turns Anthropic stream events into OpenAI SSE frames, one event at a time, as they arrive.
/// <code>
///  message_start            → first chunk: delta {role: assistant, content: ""}
///  content_block_start      → tool_use: tool_calls delta {index, id, type, name, arguments: ""}
///  content_block_delta      → text_delta: content delta; input_json_delta: arguments fragment
///  message_delta            → chunk with finish_reason (usage noted: its counts are cumulative)
///  message_stop             → usage chunk with choices [] (when the request asked), then [DONE]
///  error                    → {"error":{…}} and the end (no [DONE], so the relay reports a mid-stream error)
///  ping, content_block_stop, thinking and unknown events → nothing
/// </code>
/// An upstream that ends without <c>message_stop</c> gets no <c>[DONE]</c> either: the relay reports truncation.
/// </summary>
internal sealed class AnthropicStreamTranslator(long created, bool includeUsage)
{
    private readonly Dictionary<long, int> _toolIndexByBlock = [];
    private readonly Utf8JsonWriter _writer = new(Stream.Null, WriterOptions);
    private string _id = "msg";
    private string _model = "";
    private bool _started;
    private AnthropicUsage _usage;

    public StreamStep Translate(ReadOnlySpan<byte> anthropicEvent, IBufferWriter<byte> output)
    {
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(anthropicEvent);
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException)
        {
            WriteFrame(output, w => AnthropicErrors.WriteError(w, "The Anthropic upstream sent an unreadable stream event.", "api_error", null, null));
            return StreamStep.Failed;
        }

        using (document)
        {
            var root = document.RootElement;
            switch (TextOf(root, "type"))
            {
                case "message_start":
                    if (root.TryGetProperty("message", out var message))
                    {
                        _id = TextOf(message, "id") ?? _id;
                        _model = TextOf(message, "model") ?? _model;
                        _usage = message.TryGetProperty("usage", out var usage) ? AnthropicUsage.Read(usage, _usage) : _usage;
                    }

                    EnsureStarted(output);
                    break;
                case "content_block_start":
                    EnsureStarted(output);
                    BlockStart(root, output);
                    break;
                case "content_block_delta":
                    EnsureStarted(output);
                    BlockDelta(root, output);
                    break;
                case "message_delta":
                    EnsureStarted(output);
                    _usage = root.TryGetProperty("usage", out var delta) ? AnthropicUsage.Read(delta, _usage) : _usage;
                    var stopReason = root.TryGetProperty("delta", out var d) ? TextOf(d, "stop_reason") : null;
                    WriteChunk(output, _ => { }, AnthropicWire.FinishReason(stopReason));
                    break;
                case "message_stop":
                    EnsureStarted(output);
                    if (includeUsage)
                    {
                        WriteFrame(output, w =>
                        {
                            w.WriteStartObject();
                            WriteHeader(w);
                            w.WriteStartArray("choices");
                            w.WriteEndArray();
                            _usage.WriteOpenAi(w);
                            w.WriteEndObject();
                        });
                    }

                    output.Write("data: [DONE]\n\n"u8);
                    return StreamStep.Completed;
                case "error":
                    WriteFrame(output, w =>
                    {
                        w.WriteStartObject();
                        AnthropicErrors.WriteStreamError(w, root.TryGetProperty("error", out var error) ? error : default);
                        w.WriteEndObject();
                    });
                    return StreamStep.Failed;
            }

            return StreamStep.Continue;
        }
    }

    private void BlockStart(JsonElement root, IBufferWriter<byte> output)
    {
        if (!root.TryGetProperty("content_block", out var block) || !root.TryGetProperty("index", out var index))
        {
            return;
        }

        switch (TextOf(block, "type"))
        {
            case "text" when TextOf(block, "text") is { Length: > 0 } text:
                WriteChunk(output, w => w.WriteString("content", text), null);
                break;
            case "tool_use":
                // OpenAI numbers tool calls among themselves; Anthropic numbers every block (text included).
                var toolIndex = _toolIndexByBlock.Count;
                _toolIndexByBlock[index.GetInt64()] = toolIndex;
                WriteChunk(output, w => WriteToolCall(w, toolIndex, f =>
                {
                    f.WriteString("id", TextOf(block, "id"));
                    f.WriteString("type", "function");
                    f.WriteStartObject("function");
                    f.WriteString("name", TextOf(block, "name"));
                    f.WriteString("arguments", "");
                    f.WriteEndObject();
                }), null);
                break;
        }
    }

    private void BlockDelta(JsonElement root, IBufferWriter<byte> output)
    {
        if (!root.TryGetProperty("delta", out var delta))
        {
            return;
        }

        switch (TextOf(delta, "type"))
        {
            case "text_delta" when TextOf(delta, "text") is { Length: > 0 } text:
                WriteChunk(output, w => w.WriteString("content", text), null);
                break;
            case "input_json_delta" when TextOf(delta, "partial_json") is { Length: > 0 } json
                && root.TryGetProperty("index", out var index) && _toolIndexByBlock.TryGetValue(index.GetInt64(), out var toolIndex):
                WriteChunk(output, w => WriteToolCall(w, toolIndex, f =>
                {
                    f.WriteStartObject("function");
                    f.WriteString("arguments", json);
                    f.WriteEndObject();
                }), null);
                break;
        }
    }

    private void EnsureStarted(IBufferWriter<byte> output)
    {
        if (!_started)
        {
            _started = true;
            WriteChunk(output, w =>
            {
                w.WriteString("role", "assistant");
                w.WriteString("content", "");
            }, null);
        }
    }

    private static void WriteToolCall(Utf8JsonWriter w, int index, Action<Utf8JsonWriter> fields)
    {
        w.WriteStartArray("tool_calls");
        w.WriteStartObject();
        w.WriteNumber("index", index);
        fields(w);
        w.WriteEndObject();
        w.WriteEndArray();
    }

    private void WriteChunk(IBufferWriter<byte> output, Action<Utf8JsonWriter> delta, string? finishReason) => WriteFrame(output, w =>
    {
        w.WriteStartObject();
        WriteHeader(w);
        ChatChunkWriter.WriteChoice(w, delta, finishReason, includeUsage);

        w.WriteEndObject();
    });

    private void WriteHeader(Utf8JsonWriter w)
    {
        w.WriteString("id", _id);
        w.WriteString("object", "chat.completion.chunk");
        w.WriteNumber("created", created);
        w.WriteString("model", _model);
    }

    private void WriteFrame(IBufferWriter<byte> output, Action<Utf8JsonWriter> json)
    {
        output.Write("data: "u8);
        _writer.Reset(output);
        json(_writer);
        _writer.Flush();
        output.Write("\n\n"u8);
    }
}
