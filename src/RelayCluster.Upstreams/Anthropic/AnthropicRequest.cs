using System.Text.Json;
using System.Text.Json.Nodes;
using RelayCluster.Core.Configuration;

namespace RelayCluster.Upstreams.Anthropic;

/// <summary>An OpenAI request field the Messages API cannot express; answered with 400 before any upstream call.</summary>
internal sealed class AnthropicTranslationException(string message, string? param) : Exception(message)
{
    public string? Param { get; } = param;
}

/// <summary>
/// An OpenAI chat-completions body as an Anthropic Messages body. System and developer messages become
/// <c>system</c>; tool calls and tool results become <c>tool_use</c>/<c>tool_result</c> blocks; consecutive
/// messages of one role are merged into one turn (tool results arrive as several OpenAI messages but must
/// be one user turn). Sampling fields Anthropic lacks (penalties, logit_bias, seed…) are dropped, as
/// Anthropic's own OpenAI-compatibility layer drops them; fields whose loss would change the answer's
/// shape (<c>n</c> &gt; 1, audio, files, custom tools) are refused.
/// </summary>
internal static class AnthropicRequest
{
    public static JsonObject From(JsonObject chat, AnthropicOptions options)
    {
        if (chat["messages"] is not JsonArray input)
        {
            throw new AnthropicTranslationException("'messages' must be an array.", "messages");
        }

        var system = new List<string>();
        var messages = new JsonArray();
        for (var i = 0; i < input.Count; i++)
        {
            var param = $"messages[{i}]";
            var message = input[i] as JsonObject ?? throw new AnthropicTranslationException($"'{param}' must be an object.", param);
            switch (Text(message["role"]))
            {
                case "system" or "developer":
                    system.Add(PlainText(message["content"], $"{param}.content"));
                    break;
                case "user":
                    Append(messages, "user", UserBlocks(message["content"], $"{param}.content"));
                    break;
                case "assistant":
                    Append(messages, "assistant", AssistantBlocks(message, param));
                    break;
                case "tool":
                    Append(messages, "user", [ToolResult(message, param)]);
                    break;
                case var role:
                    throw new AnthropicTranslationException($"Messages with role '{role}' are not supported by this model's provider.", $"{param}.role");
            }
        }

        var result = new JsonObject { ["model"] = chat["model"]?.DeepClone() };
        if (system.Count > 0)
        {
            result["system"] = string.Join("\n\n", system);
        }

        result["messages"] = messages;
        result["max_tokens"] = Number(chat["max_completion_tokens"]) ?? Number(chat["max_tokens"]) ?? options.DefaultMaxTokens;
        CopyIfSet(chat, "temperature", result, "temperature");
        CopyIfSet(chat, "top_p", result, "top_p");
        switch (chat["stop"])
        {
            case JsonValue one when one.TryGetValue<string>(out var stop):
                result["stop_sequences"] = new JsonArray(stop);
                break;
            case JsonArray many:
                result["stop_sequences"] = many.DeepClone();
                break;
        }

        if (Number(chat["n"]) is > 1)
        {
            throw new AnthropicTranslationException("This model's provider returns one choice per request: 'n' must be 1.", "n");
        }

        AddTools(chat, result);
        if ((Text(chat["user"]) ?? Text(chat["safety_identifier"])) is { } user)
        {
            result["metadata"] = new JsonObject { ["user_id"] = user };
        }

        if (chat["stream"] is JsonValue s && s.TryGetValue<bool>(out var stream) && stream)
        {
            result["stream"] = true;
        }

        return result;
    }

    /// <summary>Appends a turn, or merges it into the previous one of the same role (Anthropic alternates roles).</summary>
    private static void Append(JsonArray messages, string role, List<JsonObject> blocks)
    {
        if (blocks.Count == 0)
        {
            return; // Anthropic rejects empty turns and empty text blocks; an empty message carries nothing anyway
        }

        if (messages.Count > 0 && messages[^1] is JsonObject last && Text(last["role"]) == role)
        {
            var content = (JsonArray)last["content"]!;
            blocks.ForEach(content.Add);
            return;
        }

        messages.Add(new JsonObject { ["role"] = role, ["content"] = new JsonArray([.. blocks]) });
    }

    private static List<JsonObject> UserBlocks(JsonNode? content, string param)
    {
        if (content is not JsonArray parts)
        {
            return TextBlocks(PlainText(content, param));
        }

        var blocks = new List<JsonObject>();
        for (var i = 0; i < parts.Count; i++)
        {
            var part = parts[i] as JsonObject;
            switch (Text(part?["type"]))
            {
                case "text":
                    blocks.AddRange(TextBlocks(Text(part!["text"]) ?? ""));
                    break;
                case "image_url":
                    blocks.Add(Image(Text(part!["image_url"]?["url"]) ?? Text(part["image_url"]), $"{param}[{i}].image_url.url"));
                    break;
                case var type:
                    throw new AnthropicTranslationException($"Content parts of type '{type}' are not supported by this model's provider.", $"{param}[{i}].type");
            }
        }

        return blocks;
    }

    private static JsonObject Image(string? url, string param)
    {
        const string Base64Marker = ";base64,";
        if (url is not null && url.StartsWith("data:", StringComparison.Ordinal) && url.IndexOf(Base64Marker, StringComparison.Ordinal) is > 5 and var marker)
        {
            return new JsonObject
            {
                ["type"] = "image",
                ["source"] = new JsonObject
                {
                    ["type"] = "base64", ["media_type"] = url[5..marker], ["data"] = url[(marker + Base64Marker.Length)..],
                },
            };
        }

        if (Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
        {
            return new JsonObject { ["type"] = "image", ["source"] = new JsonObject { ["type"] = "url", ["url"] = url } };
        }

        throw new AnthropicTranslationException("An image must be a base64 data URL or an http(s) URL.", param);
    }

    private static List<JsonObject> AssistantBlocks(JsonObject message, string param)
    {
        var blocks = message["content"] is null ? [] : TextBlocks(PlainText(message["content"], $"{param}.content"));
        if (message["tool_calls"] is not JsonArray calls)
        {
            return blocks;
        }

        for (var i = 0; i < calls.Count; i++)
        {
            var call = calls[i] as JsonObject;
            var function = call?["function"] as JsonObject
                ?? throw new AnthropicTranslationException("Only function tool calls are supported by this model's provider.", $"{param}.tool_calls[{i}]");
            var arguments = Text(function["arguments"]);
            JsonNode? input;
            try
            {
                input = string.IsNullOrWhiteSpace(arguments) ? new JsonObject() : JsonNode.Parse(arguments);
            }
            catch (JsonException)
            {
                input = null;
            }

            blocks.Add(new JsonObject
            {
                ["type"] = "tool_use",
                ["id"] = Text(call!["id"]),
                ["name"] = Text(function["name"]),
                ["input"] = input as JsonObject
                    ?? throw new AnthropicTranslationException("Tool call arguments must be a JSON object.", $"{param}.tool_calls[{i}].function.arguments"),
            });
        }

        return blocks;
    }

    private static JsonObject ToolResult(JsonObject message, string param) => new()
    {
        ["type"] = "tool_result",
        ["tool_use_id"] = Text(message["tool_call_id"])
            ?? throw new AnthropicTranslationException("A tool message needs a 'tool_call_id'.", $"{param}.tool_call_id"),
        ["content"] = PlainText(message["content"], $"{param}.content"),
    };

    private static void AddTools(JsonObject chat, JsonObject result)
    {
        if (chat["tools"] is JsonArray tools && tools.Count > 0)
        {
            var translated = new JsonArray();
            for (var i = 0; i < tools.Count; i++)
            {
                var function = Text(tools[i]?["type"]) == "function" ? tools[i]!["function"] as JsonObject : null;
                if (function is null)
                {
                    throw new AnthropicTranslationException("Only function tools are supported by this model's provider.", $"tools[{i}]");
                }

                var tool = new JsonObject { ["name"] = function["name"]?.DeepClone() };
                CopyIfSet(function, "description", tool, "description");
                tool["input_schema"] = function["parameters"]?.DeepClone() ?? new JsonObject { ["type"] = "object", ["properties"] = new JsonObject() };
                translated.Add(tool);
            }

            result["tools"] = translated;
        }

        var choice = chat["tool_choice"] switch
        {
            null => null,
            JsonValue v when v.TryGetValue<string>(out var mode) => mode switch
            {
                "auto" => new JsonObject { ["type"] = "auto" },
                "none" => new JsonObject { ["type"] = "none" },
                "required" => new JsonObject { ["type"] = "any" },
                _ => throw new AnthropicTranslationException($"tool_choice '{mode}' is not one of none, auto, required.", "tool_choice"),
            },
            JsonObject named when Text(named["function"]?["name"]) is { } name => new JsonObject { ["type"] = "tool", ["name"] = name },
            _ => throw new AnthropicTranslationException("Only function tool choices are supported by this model's provider.", "tool_choice"),
        };

        // OpenAI switches parallel calls off at the request; Anthropic on the tool choice.
        if (chat["parallel_tool_calls"] is JsonValue p && p.TryGetValue<bool>(out var parallel) && !parallel && result["tools"] is not null)
        {
            choice ??= new JsonObject { ["type"] = "auto" };
            if (Text(choice["type"]) != "none")
            {
                choice["disable_parallel_tool_use"] = true;
            }
        }

        if (choice is not null)
        {
            result["tool_choice"] = choice;
        }
    }

    /// <summary>A content that may only hold text: a string, or an array of text (or refusal) parts joined.</summary>
    private static string PlainText(JsonNode? content, string param) => content switch
    {
        null => "",
        JsonValue v when v.TryGetValue<string>(out var text) => text,
        JsonArray parts => string.Concat(parts.Select((part, i) => Text(part?["type"]) is "text" or "refusal"
            ? Text(part!["text"]) ?? Text(part["refusal"]) ?? ""
            : throw new AnthropicTranslationException("Only text content is supported here by this model's provider.", $"{param}[{i}]"))),
        _ => throw new AnthropicTranslationException("Content must be a string or an array of content parts.", param),
    };

    private static List<JsonObject> TextBlocks(string text) =>
        text.Length == 0 ? [] : [new JsonObject { ["type"] = "text", ["text"] = text }];

    private static void CopyIfSet(JsonObject from, string name, JsonObject to, string toName)
    {
        if (from[name] is { } value && value.GetValueKind() != JsonValueKind.Null)
        {
            to[toName] = value.DeepClone();
        }
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var text) ? text : null;

    private static long? Number(JsonNode? node) => node is JsonValue v && v.TryGetValue<long>(out var n) ? n : null;
}
