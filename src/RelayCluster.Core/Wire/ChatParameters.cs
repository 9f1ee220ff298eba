using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace RelayCluster.Core.Wire;

/// <summary>
/// The documented types and ranges of the chat-completions parameters the relay passes through (OpenAI API
/// reference, "Create chat completion"; openai-openapi <c>CreateChatCompletionRequest</c>), checked before
/// admission so a body OpenAI would refuse is refused here with the same 400 and <c>param</c>, whichever provider
/// the route reaches. Parameters OpenAI documents but the relay does not know stay the upstream's to judge.
/// </summary>
public static partial class ChatParameters
{
    /// <summary>OpenAI's pattern for function and JSON-schema names: letters, digits, underscores and dashes, 1 to 64.</summary>
    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex NamePattern();

    /// <summary>The first rule <paramref name="body"/> breaks, or null.</summary>
    public static RelayError? Check(JsonObject body) =>
        ParameterRules.Decimal(body["temperature"], "temperature", 0, 2)
        ?? ParameterRules.Decimal(body["top_p"], "top_p", 0, 1)
        ?? ParameterRules.Decimal(body["presence_penalty"], "presence_penalty", -2, 2)
        ?? ParameterRules.Decimal(body["frequency_penalty"], "frequency_penalty", -2, 2)
        ?? ParameterRules.Integer(body["seed"], "seed", long.MinValue, long.MaxValue).Error
        ?? Logprobs(body)
        ?? ParameterRules.Bool(body["parallel_tool_calls"], "parallel_tool_calls")
        ?? ParameterRules.Bool(body["store"], "store")
        ?? ParameterRules.String(body["user"], "user")
        ?? ResponseFormat(body["response_format"])
        ?? Tools(body["tools"])
        ?? ToolChoice(body["tool_choice"], body["tools"]);

    /// <summary>A function, tool or schema name as OpenAI accepts it.</summary>
    public static RelayError? Name(JsonNode? node, string param)
    {
        if (node is null)
        {
            return RelayError.MissingParameter(param);
        }

        if (!JsonKinds.IsString(node))
        {
            return ParameterRules.TypeError(param, "a string", node);
        }

        return NamePattern().IsMatch(node.GetValue<string>())
            ? null
            : RelayError.BadRequest(
                $"Invalid '{param}': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]{{1,64}}$'.", param, "invalid_value");
    }

    /// <summary><c>top_logprobs</c> is 0–20 and needs <c>logprobs: true</c> (API reference: "logprobs must be set to true if this parameter is used").</summary>
    private static RelayError? Logprobs(JsonObject body)
    {
        if (ParameterRules.Bool(body["logprobs"], "logprobs") is { } logprobsError)
        {
            return logprobsError;
        }

        var (top, topError) = ParameterRules.Integer(body["top_logprobs"], "top_logprobs", 0, 20);
        if (topError is not null)
        {
            return topError;
        }

        return top is not null && !(JsonKinds.IsBool(body["logprobs"]) && body["logprobs"]!.GetValue<bool>())
            ? RelayError.BadRequest("Invalid value for 'top_logprobs': 'logprobs' must be set to true when 'top_logprobs' is used.", "top_logprobs", "invalid_value")
            : null;
    }

    /// <summary><c>{"type":"text"|"json_object"|"json_schema"}</c>; a JSON schema needs <c>json_schema.name</c>.</summary>
    private static RelayError? ResponseFormat(JsonNode? node)
    {
        if (node is null)
        {
            return null;
        }

        if (node is not JsonObject format)
        {
            return ParameterRules.TypeError("response_format", "an object", node);
        }

        if (ParameterRules.RequiredType(format, "response_format", "text", "json_object", "json_schema") is { } typeError)
        {
            return typeError;
        }

        if (format["type"]!.GetValue<string>() != "json_schema")
        {
            return null;
        }

        if (format["json_schema"] is null)
        {
            return RelayError.MissingParameter("response_format.json_schema");
        }

        if (format["json_schema"] is not JsonObject schema)
        {
            return ParameterRules.TypeError("response_format.json_schema", "an object", format["json_schema"]);
        }

        return Name(schema["name"], "response_format.json_schema.name")
            ?? ParameterRules.String(schema["description"], "response_format.json_schema.description")
            ?? ParameterRules.Object(schema["schema"], "response_format.json_schema.schema")
            ?? ParameterRules.Bool(schema["strict"], "response_format.json_schema.strict");
    }

    /// <summary>Each tool is a function with a valid name (or a custom tool, which OpenAI also accepts).</summary>
    private static RelayError? Tools(JsonNode? node)
    {
        if (node is null)
        {
            return null;
        }

        if (node is not JsonArray tools)
        {
            return ParameterRules.TypeError("tools", "an array", node);
        }

        if (tools.Count == 0)
        {
            return ParameterRules.EmptyArray("tools");
        }

        for (var i = 0; i < tools.Count; i++)
        {
            var param = $"tools[{i}]";
            if (tools[i] is not JsonObject tool)
            {
                return ParameterRules.TypeError(param, "an object", tools[i]);
            }

            if (ParameterRules.RequiredType(tool, param, "function", "custom") is { } typeError)
            {
                return typeError;
            }

            var kind = tool["type"]!.GetValue<string>();
            if (tool[kind] is null)
            {
                return RelayError.MissingParameter($"{param}.{kind}");
            }

            if (tool[kind] is not JsonObject definition)
            {
                return ParameterRules.TypeError($"{param}.{kind}", "an object", tool[kind]);
            }

            var error = Name(definition["name"], $"{param}.{kind}.name")
                ?? ParameterRules.String(definition["description"], $"{param}.{kind}.description")
                ?? (kind == "function"
                    ? ParameterRules.Object(definition["parameters"], $"{param}.function.parameters") ?? ParameterRules.Bool(definition["strict"], $"{param}.function.strict")
                    : null);
            if (error is not null)
            {
                return error;
            }
        }

        return null;
    }

    /// <summary>
    /// <c>"none"|"auto"|"required"</c>, or <c>{"type":"function","function":{"name"}}</c> naming a defined tool (also
    /// <c>allowed_tools</c> and <c>custom</c>, the newer forms). Anything but <c>none</c> needs <c>tools</c>.
    /// </summary>
    private static RelayError? ToolChoice(JsonNode? node, JsonNode? tools)
    {
        if (node is null)
        {
            return null;
        }

        var hasTools = tools is JsonArray { Count: > 0 };
        if (JsonKinds.IsString(node))
        {
            if (ParameterRules.OneOf(node, "tool_choice", "none", "auto", "required") is { } valueError)
            {
                return valueError;
            }

            return hasTools || node.GetValue<string>() == "none" ? null : ToolChoiceWithoutTools();
        }

        if (node is not JsonObject choice)
        {
            return ParameterRules.TypeError("tool_choice", "a string or an object", node);
        }

        if (ParameterRules.RequiredType(choice, "tool_choice", "function", "custom", "allowed_tools") is { } typeError)
        {
            return typeError;
        }

        if (!hasTools)
        {
            return ToolChoiceWithoutTools();
        }

        var kind = choice["type"]!.GetValue<string>();
        if (kind == "allowed_tools")
        {
            return ParameterRules.Object(choice["allowed_tools"], "tool_choice.allowed_tools");
        }

        if (choice[kind] is not JsonObject named)
        {
            return choice[kind] is null ? RelayError.MissingParameter($"tool_choice.{kind}") : ParameterRules.TypeError($"tool_choice.{kind}", "an object", choice[kind]);
        }

        if (ParameterRules.RequiredString(named, "name", $"tool_choice.{kind}.name") is { } nameError)
        {
            return nameError;
        }

        var name = named["name"]!.GetValue<string>();
        var defined = ((JsonArray)tools!).OfType<JsonObject>().Any(t => t[kind] is JsonObject d && JsonKinds.IsString(d["name"]) && d["name"]!.GetValue<string>() == name);
        return defined
            ? null
            : RelayError.BadRequest($"Invalid value for 'tool_choice': no {kind} named '{name}' is defined in 'tools'.", "tool_choice", "invalid_value");
    }

    private static RelayError ToolChoiceWithoutTools() => RelayError.BadRequest(
        "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", "tool_choice", "invalid_value");
}
