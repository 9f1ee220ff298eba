using System.Text;
using System.Text.Json.Nodes;
using RelayCluster.Upstreams.Anthropic;
using RelayCluster.Upstreams.Simulator;

namespace RelayCluster.MockUpstream.Anthropic;

/// <summary>An answer as Anthropic streams it, paced and broken as the script says.</summary>
internal static class AnthropicMockStream
{
    public static async Task WriteAsync(Stream output, AnthropicMockAnswer answer, SimulatorEngine engine, SimulatorScript script, CancellationToken cancellationToken)
    {
        await EventAsync(output, "message_start", answer.MessageStart(), cancellationToken);
        await EventAsync(output, "ping", """{"type": "ping"}"""u8.ToArray(), cancellationToken);
        await engine.DelayAsync(script.TimeToFirstTokenMs, cancellationToken);
        var index = 0;
        if (answer.Tokens.Length > 0)
        {
            await EventAsync(output, "content_block_start", Block(index, """{"type":"text","text":""}"""), cancellationToken);
        }

        for (var i = 0; i < answer.Tokens.Length; i++)
        {
            if (i == script.MidStreamErrorAfter)
            {
                await EventAsync(output, "error", AnthropicWire.ErrorBody("overloaded_error", "Overloaded", null), cancellationToken);
                return;
            }

            if (i == script.DropAfter)
            {
                throw new SimulatedDropException();
            }

            if (i > 0)
            {
                await engine.DelayAsync(script.TokenIntervalMs, cancellationToken);
            }

            await EventAsync(output, "content_block_delta", Delta(index, new JsonObject { ["type"] = "text_delta", ["text"] = answer.Tokens[i] }), cancellationToken);
        }

        if (answer.Tokens.Length > 0)
        {
            await EventAsync(output, "content_block_stop", Block(index++, null), cancellationToken);
        }

        if (answer.ToolUse is { } tool)
        {
            var started = tool.DeepClone().AsObject();
            started["input"] = new JsonObject();
            await EventAsync(output, "content_block_start", Block(index, started.ToJsonString()), cancellationToken);

            // The input arrives in pieces that are not JSON on their own, as Anthropic sends it.
            var json = tool["input"]!.ToJsonString();
            foreach (var piece in json.Chunk(Math.Max(1, (json.Length + 2) / 3)))
            {
                await EventAsync(output, "content_block_delta", Delta(index, new JsonObject { ["type"] = "input_json_delta", ["partial_json"] = new string(piece) }), cancellationToken);
            }

            await EventAsync(output, "content_block_stop", Block(index, null), cancellationToken);
        }

        await EventAsync(output, "message_delta", answer.MessageDelta(), cancellationToken);
        await EventAsync(output, "message_stop", """{"type":"message_stop"}"""u8.ToArray(), cancellationToken);
    }

    private static byte[] Block(int index, string? contentBlock) => Encoding.UTF8.GetBytes(contentBlock is null
        ? $$"""{"type":"content_block_stop","index":{{index}}}"""
        : $$"""{"type":"content_block_start","index":{{index}},"content_block":{{contentBlock}}}""");

    private static byte[] Delta(int index, JsonObject delta) => AnthropicWire.Json(w =>
    {
        w.WriteStartObject();
        w.WriteString("type", "content_block_delta");
        w.WriteNumber("index", index);
        w.WritePropertyName("delta");
        delta.WriteTo(w);
        w.WriteEndObject();
    });

    private static async Task EventAsync(Stream output, string name, byte[] json, CancellationToken cancellationToken)
    {
        await output.WriteAsync(Encoding.UTF8.GetBytes($"event: {name}\ndata: "), cancellationToken);
        await output.WriteAsync(json, cancellationToken);
        await output.WriteAsync("\n\n"u8.ToArray(), cancellationToken);
        await output.FlushAsync(cancellationToken);
    }
}
