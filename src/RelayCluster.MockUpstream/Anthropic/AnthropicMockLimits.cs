using System.Text.Json;
using System.Text.Json.Nodes;

namespace RelayCluster.MockUpstream.Anthropic;

/// <summary>
/// The request limits of Anthropic's Messages API that a translation from OpenAI can break, refused as the real
/// API refuses them (a 400 <c>invalid_request_error</c> naming the field): fields the API does not know
/// ("Extra inputs are not permitted"), <c>temperature</c> and <c>top_p</c> outside 0–1, stop sequences that are
/// whitespace only, empty text blocks, <c>metadata</c> other than <c>user_id</c>, a tool choice without tools. Source: Anthropic's
/// Messages API reference (docs.anthropic.com/en/api/messages).
/// </summary>
internal static class AnthropicMockLimits
{
    private static readonly HashSet<string> Fields = new(StringComparer.Ordinal)
    {
        "model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream", "temperature", "top_p", "top_k",
        "tools", "tool_choice", "thinking", "service_tier", "container", "mcp_servers", "context_management",
    };

    public static string? Invalid(JsonObject body)
    {
        foreach (var (name, _) in body)
        {
            if (!Fields.Contains(name))
            {
                return $"{name}: Extra inputs are not permitted";
            }
        }

        foreach (var name in (ReadOnlySpan<string>)["temperature", "top_p"])
        {
            if (body[name] is { } value && (value.GetValueKind() != JsonValueKind.Number || value.GetValue<double>() is < 0 or > 1))
            {
                return $"{name}: Input should be a number between 0 and 1";
            }
        }

        if (body["stop_sequences"] is { } stops)
        {
            if (stops is not JsonArray list || list.Any(s => s is not JsonValue v || !v.TryGetValue<string>(out _)))
            {
                return "stop_sequences: Input should be a valid list of strings";
            }

            if (list.Any(s => string.IsNullOrWhiteSpace((string?)s)))
            {
                return "stop_sequences: each stop sequence must contain non-whitespace";
            }
        }

        var blocks = (body["messages"] as JsonArray ?? []).Select(m => m?["content"]).OfType<JsonArray>().SelectMany(c => c);
        if (blocks.Any(b => (string?)b?["type"] == "text" && string.IsNullOrEmpty((string?)b["text"])))
        {
            return "messages: text content blocks must be non-empty";
        }

        if (body["metadata"] is JsonObject metadata && metadata.Any(p => p.Key != "user_id"))
        {
            return $"metadata.{metadata.First(p => p.Key != "user_id").Key}: Extra inputs are not permitted";
        }

        if (body["tool_choice"] is JsonObject choice)
        {
            if ((string?)choice["type"] is not ("auto" or "any" or "tool" or "none"))
            {
                return "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'";
            }

            if ((string?)choice["type"] != "none" && body["tools"] is not JsonArray { Count: > 0 })
            {
                return "tool_choice: may only be specified while providing tools";
            }
        }

        return null;
    }
}
