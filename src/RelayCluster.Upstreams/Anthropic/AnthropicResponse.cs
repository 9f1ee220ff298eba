using System.Text;
using System.Text.Json;

using static RelayCluster.Upstreams.Anthropic.AnthropicWire;

namespace RelayCluster.Upstreams.Anthropic;

/// <summary>
/// A whole Anthropic Message as an OpenAI <c>chat.completion</c>: text blocks joined into
/// <c>message.content</c>, <c>tool_use</c> blocks as <c>tool_calls</c> (arguments as a JSON string, as
/// OpenAI sends them), the stop reason and usage mapped. Other blocks (thinking, server tools) are not
/// part of the OpenAI message and are left out.
/// </summary>
internal static class AnthropicResponse
{
    /// <summary>The chat completion, or null when <paramref name="message"/> is not a Message.</summary>
    public static byte[]? ToChatCompletion(ReadOnlySpan<byte> message, long created)
    {
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(message);
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException)
        {
            return null;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.Array)
            {
                return null;
            }

            var text = new StringBuilder();
            var toolCalls = new List<JsonElement>();
            foreach (var block in content.EnumerateArray())
            {
                switch (TextOf(block, "type"))
                {
                    case "text":
                        text.Append(TextOf(block, "text"));
                        break;
                    case "tool_use":
                        toolCalls.Add(block);
                        break;
                }
            }

            return AnthropicWire.Json(w =>
            {
                w.WriteStartObject();
                w.WriteString("id", TextOf(root, "id") ?? "msg");
                w.WriteString("object", "chat.completion");
                w.WriteNumber("created", created);
                w.WriteString("model", TextOf(root, "model") ?? "");
                w.WriteStartArray("choices");
                w.WriteStartObject();
                w.WriteNumber("index", 0);
                w.WriteStartObject("message");
                w.WriteString("role", "assistant");
                if (text.Length == 0 && toolCalls.Count > 0)
                {
                    w.WriteNull("content"); // as OpenAI answers a pure tool call
                }
                else
                {
                    w.WriteString("content", text.ToString());
                }

                w.WriteNull("refusal");
                if (toolCalls.Count > 0)
                {
                    w.WriteStartArray("tool_calls");
                    foreach (var call in toolCalls)
                    {
                        w.WriteStartObject();
                        w.WriteString("id", TextOf(call, "id"));
                        w.WriteString("type", "function");
                        w.WriteStartObject("function");
                        w.WriteString("name", TextOf(call, "name"));
                        w.WriteString("arguments", call.TryGetProperty("input", out var input) ? input.GetRawText() : "{}");
                        w.WriteEndObject();
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                }

                w.WriteEndObject();
                w.WriteNull("logprobs");
                w.WriteString("finish_reason", AnthropicWire.FinishReason(TextOf(root, "stop_reason")));
                w.WriteEndObject();
                w.WriteEndArray();
                if (root.TryGetProperty("usage", out var usage))
                {
                    AnthropicUsage.Read(usage, default).WriteOpenAi(w);
                }

                w.WriteEndObject();
            });
        }
    }
}
