using System.Text.Json.Nodes;

namespace RelayCluster.Upstreams.Simulator;

/// <summary>
/// Whether the simulated model calls a tool, and which, decided from the request alone (so it is deterministic):
/// <list type="bullet">
/// <item><c>tool_choice: "none"</c>, or no function tools: no call.</item>
/// <item>a named function (<c>{"type":"function","function":{"name":…}}</c>): that function.</item>
/// <item><c>"required"</c>: a call always; <c>"auto"</c> (the default with tools): a call when the last message is
/// the user's, an answer in words after a tool result (the model has what it asked for) — the rule MockUpstream's
/// Anthropic endpoint follows too.</item>
/// <item>the functions called are those the last user message mentions by name, in the order of <c>tools</c>
/// (parallel calls; only the first of them with <c>parallel_tool_calls: false</c>), else the first tool;
/// <c>allowed_tools</c> narrows the candidates and its <c>mode</c> is the choice's.</item>
/// </list>
/// </summary>
internal static class SimulatorTools
{
    /// <summary>The functions to call (their <c>function</c> objects: name, parameters); none for an answer in words.</summary>
    public static List<JsonObject> Chosen(JsonObject body)
    {
        var functions = (body["tools"] as JsonArray ?? []).OfType<JsonObject>()
            .Where(t => Text(t["type"]) == "function")
            .Select(t => t["function"] as JsonObject)
            .OfType<JsonObject>()
            .Where(f => Text(f["name"]) is not null)
            .ToList();
        if (functions.Count == 0)
        {
            return [];
        }

        var choice = body["tool_choice"] as JsonObject;
        var mode = Text(body["tool_choice"]) ?? "auto";
        switch (Text(choice?["type"]))
        {
            case "function":
                return [.. functions.Where(f => Text(f["name"]) == Text((choice!["function"] as JsonObject)?["name"])).Take(1)];
            case "allowed_tools":
                var allowed = choice!["allowed_tools"] as JsonObject;
                var names = (allowed?["tools"] as JsonArray ?? []).OfType<JsonObject>()
                    .Select(t => Text((t["function"] as JsonObject)?["name"])).ToHashSet(StringComparer.Ordinal);
                functions = functions.Where(f => names.Contains(Text(f["name"]))).ToList();
                mode = Text(allowed?["mode"]) ?? "auto";
                break;
        }

        var messages = body["messages"] as JsonArray ?? [];
        var last = messages.Count > 0 ? messages[^1] as JsonObject : null;
        if (functions.Count == 0 || mode == "none" || (mode != "required" && Text(last?["role"]) != "user"))
        {
            return [];
        }

        var said = string.Join('\n', SimulatorScript.PromptTexts(new JsonObject { ["messages"] = new JsonArray(last?.DeepClone()) }));
        var named = functions.Where(f => said.Contains(Text(f["name"])!, StringComparison.OrdinalIgnoreCase)).ToList();
        var parallel = body["parallel_tool_calls"] is not JsonValue p || !p.TryGetValue<bool>(out var parallelCalls) || parallelCalls;
        return named.Count == 0 ? [functions[0]] : parallel ? named : [named[0]];
    }

    /// <summary>
    /// The 400 OpenAI gives a <c>tool_choice</c> it cannot follow, or null: one without tools ("Invalid value for
    /// 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", param <c>tool_choice</c>), or one that
    /// names a function <c>tools</c> does not have (forcing a call to a function that does not exist).
    /// </summary>
    public static (string Message, string Param)? Refusal(JsonObject body)
    {
        if (body["tool_choice"] is not { } choice || choice.GetValueKind() == System.Text.Json.JsonValueKind.Null)
        {
            return null;
        }

        var names = (body["tools"] as JsonArray ?? []).OfType<JsonObject>()
            .Select(t => Text((t["function"] as JsonObject)?["name"]) ?? Text(t["name"]))
            .ToList();
        if (names.Count == 0)
        {
            return ("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", "tool_choice");
        }

        var named = choice is JsonObject forced && Text(forced["type"]) == "function" ? Text((forced["function"] as JsonObject)?["name"]) : null;
        return named is not null && !names.Contains(named)
            ? ($"Invalid value for 'tool_choice': function '{named}' is not one of the functions in 'tools'.", "tool_choice")
            : null;
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var text) ? text : null;
}
