using System.Text.Json.Nodes;
using RelayCluster.Core.Wire.Prompts;

namespace RelayCluster.Upstreams.Simulator;

/// <summary>
/// The prompt tokens OpenAI bills for a chat body sent to one of its model names (gpt-4o-mini, gpt-4.1, …), for the
/// simulator answering under such a name: the text in the model's tiktoken encoding with OpenAI's framing (3 tokens a
/// message plus its role, 1 more for a name, 3 to prime the reply), tool definitions and tool calls as their JSON, and
/// images as OpenAI bills them by detail and size (gpt-4o: 85 + 170 a 512-px tile; gpt-4o-mini: 2,833 + 5,667 a tile;
/// a size the simulator cannot see, an image URL it does not fetch, is taken as the largest: 8 tiles). A run of over
/// 1,000 letters or spaces counts as its UTF-8 bytes (<see cref="PromptTokenizers.CountAtLeast"/>), not tokenized.
/// Sources: https://cookbook.openai.com/examples/how_to_count_tokens_with_tiktoken,
/// https://platform.openai.com/docs/guides/images-vision (calculating costs).
/// </summary>
public static class OpenAiPromptBilling
{
    /// <summary>The tokens billed, or null when the body's model is not an OpenAI name (the simulator's own count applies).</summary>
    public static int? PromptTokens(JsonObject body)
    {
        if (body["model"] is not JsonValue model || !model.TryGetValue<string>(out var name)
            || PromptTokenizers.Get(PromptTokenizers.ForModel(name)) is not { } tokenizer || body["messages"] is not JsonArray messages)
        {
            return null;
        }

        var (imageBase, imageTile) = name.StartsWith("gpt-4o-mini", StringComparison.OrdinalIgnoreCase) ? (2833, 5667) : (85, 170);
        long tokens = 3;
        foreach (var message in messages.OfType<JsonObject>())
        {
            tokens += 3 + Count(tokenizer, message["role"]);
            if (message["name"] is JsonValue)
            {
                tokens += 1 + Count(tokenizer, message["name"]);
            }

            tokens += message["tool_calls"] is JsonArray calls ? Tokens(tokenizer, calls.ToJsonString()) : 0;
            tokens += message["tool_call_id"] is JsonValue ? Count(tokenizer, message["tool_call_id"]) : 0;
            if (message["content"] is JsonArray parts)
            {
                foreach (var part in parts.OfType<JsonObject>())
                {
                    // By the part's type, as OpenAI reads it: a stray field of another kind is not billed.
                    tokens += (part["type"] is JsonValue type && type.TryGetValue<string>(out var kind) ? kind : null) switch
                    {
                        "image_url" when part["image_url"] is { } image => Image(image, imageBase, imageTile),
                        "refusal" => Count(tokenizer, part["refusal"]),
                        _ => Count(tokenizer, part["text"]),
                    };
                }
            }
            else
            {
                tokens += Count(tokenizer, message["content"]);
            }
        }

        tokens += body["tools"] is JsonArray tools ? Tokens(tokenizer, tools.ToJsonString()) : 0;
        return (int)Math.Min(tokens, int.MaxValue);
    }

    private static int Count(Microsoft.ML.Tokenizers.Tokenizer tokenizer, JsonNode? node) =>
        node is JsonValue value && value.TryGetValue<string>(out var text) ? Tokens(tokenizer, text) : 0;

    // BPE is quadratic in a word's length: a 4 MB word would hold a core for minutes. Like the relay's bound, runs of
    // over 1,000 characters of one kind count as their bytes (exact counts elsewhere), so the simulator cannot be hung.
    private static int Tokens(Microsoft.ML.Tokenizers.Tokenizer tokenizer, string text) =>
        (int)Math.Min(int.MaxValue, PromptTokenizers.CountAtLeast(tokenizer, text));

    private static long Image(JsonNode image, int baseTokens, int tileTokens)
    {
        var url = image is JsonObject o ? (string?)o["url"] : (string?)image;
        if (image is JsonObject { } withDetail && (string?)withDetail["detail"] == "low")
        {
            return baseTokens;
        }

        var (width, height) = url is null ? (0, 0) : MediaHeaders.ImageSize(MediaHeaders.DataUrlPayload(url));
        if (width <= 0 || height <= 0)
        {
            return baseTokens + (8L * tileTokens);
        }

        // Fit in 2048 × 2048, then shorten the short side to 768 (only ever scaling down), then count 512-px tiles.
        double w = width, h = height;
        var fit = Math.Min(1, 2048 / Math.Max(w, h));
        w *= fit;
        h *= fit;
        var shorten = Math.Min(1, 768 / Math.Min(w, h));
        var tiles = (long)(Math.Ceiling(w * shorten / 512) * Math.Ceiling(h * shorten / 512));
        return baseTokens + (tiles * tileTokens);
    }
}
