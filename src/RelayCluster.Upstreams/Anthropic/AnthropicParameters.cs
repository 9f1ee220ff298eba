using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RelayCluster.Upstreams.Anthropic;

/// <summary>
/// The request-level OpenAI chat parameters as the Messages API accepts them: each one is mapped into
/// Anthropic's range, dropped (it only tunes sampling or bookkeeping, and Anthropic has no equivalent), or
/// refused with a 400 naming it (dropping it would change what the caller gets back). The table with the
/// reasons is docs/providers/anthropic.md. Sources: Anthropic's Messages API reference (temperature and
/// top_p 0–1, <c>max_tokens</c> required, stop sequences must contain non-whitespace) and its OpenAI SDK
/// compatibility page (docs.anthropic.com/en/api/openai-sdk), whose choices are followed where it makes one.
/// Messages and tools are <see cref="AnthropicRequest"/>'s.
/// </summary>
internal static class AnthropicParameters
{
    /// <param name="defaultMaxTokens">The cap sent when the body has none (Anthropic requires one).</param>
    public static void Map(JsonObject chat, JsonObject result, long defaultMaxTokens)
    {
        result["max_tokens"] = MaxTokens(chat, defaultMaxTokens);

        // OpenAI's range is 0–2, Anthropic's 0–1. Clamped, not scaled: a scaled 0.7 would sample at 0.35 and answer
        // unlike Anthropic's own OpenAI endpoint, which caps values above 1 at 1 and leaves the rest as they are.
        if (Fraction(chat, "temperature") is { } temperature)
        {
            result["temperature"] = Math.Min(temperature, 1.0);
        }

        if (Fraction(chat, "top_p") is { } topP)
        {
            result["top_p"] = Math.Min(topP, 1.0);
        }

        if (StopSequences(chat["stop"]) is { Count: > 0 } stops)
        {
            result["stop_sequences"] = stops;
        }

        if (Integer(chat, "n") is > 1)
        {
            throw new AnthropicTranslationException("This model's provider returns one choice per request: 'n' must be 1.", "n");
        }

        if (chat["logprobs"] is JsonValue l && l.TryGetValue<bool>(out var logprobs) && logprobs)
        {
            throw new AnthropicTranslationException("This model's provider does not return log probabilities: 'logprobs' must be false.", "logprobs");
        }

        switch (chat["response_format"]?["type"] is JsonValue f && f.TryGetValue<string>(out var kind) ? kind : null)
        {
            case null or "text":
                break;
            case var format:
                throw new AnthropicTranslationException(
                    $"This model's provider cannot guarantee a '{format}' answer: leave 'response_format' out, or use a tool with a JSON schema.",
                    "response_format");
        }

        if (chat["modalities"] is JsonArray modalities && modalities.Any(m => m is JsonValue v && v.TryGetValue<string>(out var kind) && kind != "text"))
        {
            throw new AnthropicTranslationException("This model's provider answers with text only: 'modalities' must be [\"text\"].", "modalities");
        }

        foreach (var refused in (ReadOnlySpan<string>)["audio", "web_search_options", "functions", "function_call"])
        {
            if (chat[refused] is { } value && value.GetValueKind() != JsonValueKind.Null)
            {
                throw new AnthropicTranslationException($"'{refused}' is not supported by this model's provider.", refused);
            }
        }

        if ((Text(chat["user"]) ?? Text(chat["safety_identifier"])) is { } user)
        {
            result["metadata"] = new JsonObject { ["user_id"] = user };
        }

        if (chat["stream"] is JsonValue s && s.TryGetValue<bool>(out var stream) && stream)
        {
            result["stream"] = true;
        }
    }

    /// <summary><c>max_completion_tokens</c>, else the deprecated <c>max_tokens</c>, else the default; Anthropic needs ≥ 1.</summary>
    private static long MaxTokens(JsonObject chat, long defaultMaxTokens)
    {
        foreach (var name in (ReadOnlySpan<string>)["max_completion_tokens", "max_tokens"])
        {
            if (chat[name] is { } node && node.GetValueKind() != JsonValueKind.Null)
            {
                return node is JsonValue v && v.TryGetValue<long>(out var cap) && cap >= 1
                    ? cap
                    : throw new AnthropicTranslationException($"'{name}' must be an integer of at least 1.", name);
            }
        }

        return defaultMaxTokens;
    }

    /// <summary>
    /// <c>stop</c> as <c>stop_sequences</c>. Whitespace-only sequences are dropped: Anthropic refuses them, and its own
    /// OpenAI endpoint drops them too ("all non-whitespace stop sequences work"). The answer may then run past such a
    /// sequence, where OpenAI would have stopped; refusing would make such a request fail on every Anthropic model.
    /// </summary>
    private static JsonArray? StopSequences(JsonNode? stop)
    {
        var all = stop switch
        {
            null => [],
            JsonValue one when one.TryGetValue<string>(out var text) => [text],
            JsonValue one when one.GetValueKind() == JsonValueKind.Null => [],
            JsonArray many => many.Select((item, i) => item is JsonValue v && v.TryGetValue<string>(out var text)
                ? text
                : throw new AnthropicTranslationException($"'stop[{i}]' must be a string.", $"stop[{i}]")).ToList(),
            _ => throw new AnthropicTranslationException("'stop' must be a string or an array of strings.", "stop"),
        };
        return new JsonArray([.. all.Where(text => !string.IsNullOrWhiteSpace(text)).Select(text => (JsonNode)text)]);
    }

    /// <summary>A sampling number, at least 0 (OpenAI's lower bound and Anthropic's alike), or null when unset.</summary>
    private static double? Fraction(JsonObject chat, string name) => chat[name] switch
    {
        null => null,
        var node when node.GetValueKind() == JsonValueKind.Null => null,
        // Read from the number's text: a node built in code holds a long or a decimal, which GetValue<double> refuses.
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && double.Parse(v.ToJsonString(), CultureInfo.InvariantCulture) is >= 0 and var value => value,
        _ => throw new AnthropicTranslationException($"'{name}' must be a number of at least 0.", name),
    };

    private static long? Integer(JsonObject chat, string name) => chat[name] is JsonValue v && v.GetValueKind() == JsonValueKind.Number
        ? (long)Math.Floor(double.Parse(v.ToJsonString(), CultureInfo.InvariantCulture))
        : null;

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var text) ? text : null;
}
