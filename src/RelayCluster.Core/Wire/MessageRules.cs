using System.Text.Json.Nodes;

namespace RelayCluster.Core.Wire;

/// <summary>
/// What each chat message must hold by role, and which content parts each role may send, as OpenAI's
/// specification defines the message types (openai-openapi <c>ChatCompletionRequestMessage</c> and its
/// <c>…SystemMessage</c>, <c>…DeveloperMessage</c>, <c>…UserMessage</c>, <c>…AssistantMessage</c>,
/// <c>…ToolMessage</c>, <c>…FunctionMessage</c>, and the <c>ChatCompletionRequestMessageContentPart*</c> types):
/// system, developer and user messages need <c>content</c>; an assistant message needs <c>content</c> unless it has
/// <c>tool_calls</c>, <c>function_call</c>, <c>refusal</c> or <c>audio</c>; a tool message needs <c>tool_call_id</c> and
/// <c>content</c>; a function message needs <c>name</c>. The role itself is checked by the parser.
/// </summary>
public static class MessageRules
{
    private static readonly string[] TextOnly = ["text"];
    private static readonly string[] UserParts = ["text", "image_url", "input_audio", "file"];
    private static readonly string[] AssistantParts = ["text", "refusal"];

    /// <summary>The first rule message <paramref name="index"/> breaks, or null.</summary>
    public static RelayError? Check(JsonObject message, int index)
    {
        var at = $"messages[{index}]";
        var role = message["role"]!.GetValue<string>();
        if (ParameterRules.String(message["name"], $"{at}.name") is { } nameError)
        {
            return nameError;
        }

        return role switch
        {
            "system" or "developer" => Content(message, at, TextOnly, required: true),
            "user" => Content(message, at, UserParts, required: true),
            "assistant" => Assistant(message, at),
            "tool" => ParameterRules.RequiredString(message, "tool_call_id", $"{at}.tool_call_id") ?? Content(message, at, TextOnly, required: true),
            "function" => ParameterRules.RequiredString(message, "name", $"{at}.name") ?? Content(message, at, TextOnly, required: false),
            _ => null,
        };
    }

    private static RelayError? Assistant(JsonObject message, string at)
    {
        // A replayed audio answer is referred to by id, with no text (API reference: assistant message, audio).
        var acts = message["tool_calls"] is not null || message["function_call"] is not null || message["refusal"] is not null || message["audio"] is not null;
        return ParameterRules.String(message["refusal"], $"{at}.refusal")
            ?? ToolCalls(message["tool_calls"], $"{at}.tool_calls")
            ?? Content(message, at, AssistantParts, required: !acts);
    }

    /// <summary>Each replayed call: <c>{"id","type":"function","function":{"name","arguments"}}</c>.</summary>
    private static RelayError? ToolCalls(JsonNode? node, string param)
    {
        if (node is not JsonArray calls)
        {
            return null; // absent, or the wrong type, which the parser's bounds report
        }

        for (var i = 0; i < calls.Count; i++)
        {
            var at = $"{param}[{i}]";
            if (calls[i] is not JsonObject call)
            {
                return ParameterRules.TypeError(at, "an object", calls[i]);
            }

            var error = ParameterRules.RequiredString(call, "id", $"{at}.id")
                ?? ParameterRules.RequiredType(call, at, "function", "custom");
            if (error is not null)
            {
                return error;
            }

            var kind = call["type"]!.GetValue<string>();
            if (call[kind] is not JsonObject function)
            {
                return call[kind] is null ? RelayError.MissingParameter($"{at}.{kind}") : ParameterRules.TypeError($"{at}.{kind}", "an object", call[kind]);
            }

            error = ParameterRules.RequiredString(function, "name", $"{at}.{kind}.name")
                ?? ParameterRules.RequiredString(function, kind == "function" ? "arguments" : "input", $"{at}.{kind}.{(kind == "function" ? "arguments" : "input")}");
            if (error is not null)
            {
                return error;
            }
        }

        return null;
    }

    /// <summary>A string, or an array of the parts <paramref name="allowed"/> for the role, each well formed.</summary>
    private static RelayError? Content(JsonObject message, string at, string[] allowed, bool required)
    {
        var param = $"{at}.content";
        var content = message["content"];
        switch (content)
        {
            case null:
                return required ? RelayError.MissingParameter(param) : null;
            case JsonValue when JsonKinds.IsString(content):
                return null;
            case JsonArray { Count: 0 }:
                return ParameterRules.EmptyArray(param);
            case JsonArray parts:
                if (RequestLimits.TooLong(param, parts.Count, RequestLimits.MaxContentParts) is { } tooMany)
                {
                    return tooMany; // before any part is looked at
                }

                for (var i = 0; i < parts.Count; i++)
                {
                    if (Part(parts[i], $"{param}[{i}]", allowed) is { } partError)
                    {
                        return partError;
                    }
                }

                return null;
            default:
                return ParameterRules.TypeError(param, "one of a string or array of objects", content);
        }
    }

    private static RelayError? Part(JsonNode? node, string at, string[] allowed)
    {
        if (node is not JsonObject part)
        {
            return ParameterRules.TypeError(at, "an object", node);
        }

        if (ParameterRules.RequiredType(part, at, allowed) is { } typeError)
        {
            return typeError;
        }

        switch (part["type"]!.GetValue<string>())
        {
            case "text":
                return ParameterRules.RequiredString(part, "text", $"{at}.text");
            case "refusal":
                return ParameterRules.RequiredString(part, "refusal", $"{at}.refusal");
            case "image_url":
                return Inner(part, "image_url", at) is (var image, null)
                    ? ParameterRules.RequiredString(image!, "url", $"{at}.image_url.url")
                        ?? ParameterRules.OneOf(image!["detail"], $"{at}.image_url.detail", "auto", "low", "high")
                    : Inner(part, "image_url", at).Error;
            case "input_audio":
                return Inner(part, "input_audio", at) is (var audio, null)
                    ? ParameterRules.RequiredString(audio!, "data", $"{at}.input_audio.data")
                        ?? (audio!["format"] is null
                            ? RelayError.MissingParameter($"{at}.input_audio.format")
                            : ParameterRules.OneOf(audio["format"], $"{at}.input_audio.format", "wav", "mp3"))
                    : Inner(part, "input_audio", at).Error;
            case "file":
                return Inner(part, "file", at) is (var file, null) ? File(file!, $"{at}.file") : Inner(part, "file", at).Error;
            default:
                return null;
        }
    }

    /// <summary>A file part names an uploaded file (<c>file_id</c>) or carries it (<c>file_data</c>, with <c>filename</c>).</summary>
    private static RelayError? File(JsonObject file, string at)
    {
        var error = ParameterRules.String(file["file_id"], $"{at}.file_id")
            ?? ParameterRules.String(file["file_data"], $"{at}.file_data")
            ?? ParameterRules.String(file["filename"], $"{at}.filename");
        if (error is not null)
        {
            return error;
        }

        return file["file_id"] is null && file["file_data"] is null
            ? RelayError.BadRequest($"Missing required parameter: '{at}.file_id' (or '{at}.file_data').", $"{at}.file_id", "missing_required_parameter")
            : null;
    }

    private static (JsonObject? Value, RelayError? Error) Inner(JsonObject part, string name, string at) => part[name] switch
    {
        JsonObject inner => (inner, null),
        null => (null, RelayError.MissingParameter($"{at}.{name}")),
        var other => (null, ParameterRules.TypeError($"{at}.{name}", "an object", other)),
    };
}
