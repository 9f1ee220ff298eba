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
/// be one user turn). The request-level parameters are <see cref="AnthropicParameters"/>' (see
/// docs/providers/anthropic.md): fields whose loss would change the answer's shape (<c>n</c> &gt; 1, audio,
/// logprobs, JSON mode, custom tools) are refused before any upstream call.
/// </summary>
internal static class AnthropicRequest
{
    /// <param name="outputCap">
    /// The output cap the relay reserved for when the body sets none: Anthropic requires <c>max_tokens</c>, and a
    /// default above the reserved cap could bill past the reservation. Without it, the provider's default.
    /// </param>
    public static JsonObject From(JsonObject chat, AnthropicOptions options, long? outputCap = null)
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

        // Only system messages, or only empty ones: Anthropic needs a turn to answer.
        result["messages"] = messages.Count > 0
            ? messages
            : throw new AnthropicTranslationException("This model's provider needs at least one user or assistant message with content.", "messages");
        AnthropicParameters.Map(chat, result, outputCap ?? options.DefaultMaxTokens);
        AddTools(chat, result);
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
                case "file":
                    blocks.Add(Document(part!["file"] as JsonObject, $"{param}[{i}].file"));
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

    /// <summary>
    /// A <c>file</c> part as a <c>document</c> block: Anthropic reads base64 PDFs sent inline, but cannot reach a
    /// file uploaded to OpenAI by <c>file_id</c>.
    /// </summary>
    private static JsonObject Document(JsonObject? file, string param)
    {
        const string Base64Marker = ";base64,";
        var data = Text(file?["file_data"]);
        if (data is null)
        {
            throw new AnthropicTranslationException("This model's provider reads files sent inline as 'file_data', not by 'file_id'.", $"{param}.file_id");
        }

        // OpenAI documents file_data as a data URL; a bare base64 string is taken as a PDF.
        var (mediaType, base64) = data.StartsWith("data:", StringComparison.Ordinal) && data.IndexOf(Base64Marker, StringComparison.Ordinal) is > 5 and var marker
            ? (data[5..marker], data[(marker + Base64Marker.Length)..])
            : ("application/pdf", data);
        if (mediaType != "application/pdf")
        {
            throw new AnthropicTranslationException($"This model's provider reads PDF files, not '{mediaType}'.", $"{param}.file_data");
        }

        return new JsonObject
        {
            ["type"] = "document",
            ["source"] = new JsonObject { ["type"] = "base64", ["media_type"] = mediaType, ["data"] = base64 },
        };
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

        // Anthropic refuses a tool_choice without tools, and a named tool it was not given; OpenAI refuses both too
        // ("'tool_choice' is only allowed when 'tools' are specified"), so they are refused before any call.
        if (choice is not null && result["tools"] is not JsonArray)
        {
            throw new AnthropicTranslationException("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", "tool_choice");
        }

        if (Text(choice?["name"]) is { } forced && !((JsonArray)result["tools"]!).Any(t => Text(t?["name"]) == forced))
        {
            throw new AnthropicTranslationException($"Invalid value for 'tool_choice': function '{forced}' is not one of the functions in 'tools'.", "tool_choice");
        }

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
}
