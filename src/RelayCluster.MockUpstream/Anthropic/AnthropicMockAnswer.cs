using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RelayCluster.Upstreams.Anthropic;
using RelayCluster.Upstreams.Simulator;

namespace RelayCluster.MockUpstream.Anthropic;

/// <summary>
/// One deterministic Anthropic answer. The words, the <c>max_tokens</c> cut and the prompt count are the
/// simulator engine's for the same texts, so a prompt answers alike through the anthropic, openai and
/// simulator providers. A request with tools whose last turn is the user's (not a tool result) is answered
/// with a call of its first (or its chosen) tool, with an input made from the tool's schema.
/// Beyond the simulator's directives, <c>[[sim cache_read=N cache_write=N]]</c> moves N prompt tokens to
/// Anthropic's cache counters.
/// </summary>
internal sealed partial record AnthropicMockAnswer(
    string Id, string Model, string[] Tokens, JsonObject? ToolUse, string StopReason, AnthropicUsage Usage)
{
    /// <summary>Output tokens a tool call counts, a fixed number so usage stays predictable.</summary>
    public const int ToolCallTokens = 8;

    /// <summary>The request as the simulator engine reads prompts: the system prompt as the first message.</summary>
    public static JsonObject SimulatorBody(JsonObject request)
    {
        var messages = new JsonArray();
        if (request["system"] is { } system)
        {
            messages.Add(new JsonObject { ["role"] = "system", ["content"] = system.DeepClone() });
        }

        foreach (var message in request["messages"]?.AsArray() ?? [])
        {
            messages.Add(message?.DeepClone());
        }

        return new JsonObject { ["model"] = request["model"]?.DeepClone(), ["messages"] = messages, ["max_tokens"] = request["max_tokens"]?.DeepClone() };
    }

    public static AnthropicMockAnswer Plan(JsonObject request, JsonObject simulatorBody, SimulatorEngine engine, SimulatorScript script)
    {
        // The engine's plan is private: its chat completion is the public view of it. Its words never
        // contain spaces, so splitting the text gives back the tokens exactly.
        var completion = JsonNode.Parse(engine.ChatCompletion(simulatorBody, script))!;
        var text = (string?)completion["choices"]![0]!["message"]!["content"] ?? "";
        var words = text.Length == 0 ? [] : text.Split(' ');
        var tokens = words.Select((w, i) => i == 0 ? w : " " + w).ToArray();
        var toolUse = ToolCall(request);

        var prompt = SimulatorEngine.CountPromptTokens(simulatorBody);
        var cacheRead = Math.Min(Directive(simulatorBody, "cache_read"), prompt);
        var cacheWrite = Math.Min(Directive(simulatorBody, "cache_write"), prompt - cacheRead);
        var usage = new AnthropicUsage(prompt - cacheRead - cacheWrite, cacheWrite, cacheRead, tokens.Length + (toolUse is null ? 0 : ToolCallTokens));
        var stopReason = toolUse is not null ? "tool_use" : (string?)completion["choices"]![0]!["finish_reason"] == "length" ? "max_tokens" : "end_turn";
        return new AnthropicMockAnswer(
            "msg_" + Guid.NewGuid().ToString("N")[..24], (string?)request["model"] ?? "mock", tokens, toolUse, stopReason, usage);
    }

    public byte[] Message() => AnthropicWire.Json(w =>
    {
        w.WriteStartObject();
        w.WriteString("id", Id);
        w.WriteString("type", "message");
        w.WriteString("role", "assistant");
        w.WriteString("model", Model);
        w.WriteStartArray("content");
        if (Tokens.Length > 0)
        {
            w.WriteStartObject();
            w.WriteString("type", "text");
            w.WriteString("text", string.Concat(Tokens));
            w.WriteEndObject();
        }

        ToolUse?.WriteTo(w);
        w.WriteEndArray();
        w.WriteString("stop_reason", StopReason);
        w.WriteNull("stop_sequence");
        Usage.WriteAnthropic(w);
        w.WriteEndObject();
    });

    /// <summary>The <c>message</c> of <c>message_start</c>: no content yet, input counted, one output token so far.</summary>
    public byte[] MessageStart() => AnthropicWire.Json(w =>
    {
        w.WriteStartObject();
        w.WriteString("type", "message_start");
        w.WriteStartObject("message");
        w.WriteString("id", Id);
        w.WriteString("type", "message");
        w.WriteString("role", "assistant");
        w.WriteString("model", Model);
        w.WriteStartArray("content");
        w.WriteEndArray();
        w.WriteNull("stop_reason");
        w.WriteNull("stop_sequence");
        (Usage with { Output = 1 }).WriteAnthropic(w);
        w.WriteEndObject();
        w.WriteEndObject();
    });

    /// <summary><c>message_delta</c>: as Anthropic sends it, only the cumulative output count.</summary>
    public byte[] MessageDelta() => AnthropicWire.Json(w =>
    {
        w.WriteStartObject();
        w.WriteString("type", "message_delta");
        w.WriteStartObject("delta");
        w.WriteString("stop_reason", StopReason);
        w.WriteNull("stop_sequence");
        w.WriteEndObject();
        w.WriteStartObject("usage");
        w.WriteNumber("output_tokens", Usage.Output);
        w.WriteEndObject();
        w.WriteEndObject();
    });

    private static JsonObject? ToolCall(JsonObject request)
    {
        var choice = request["tool_choice"];
        if (request["tools"] is not JsonArray { Count: > 0 } tools || (string?)choice?["type"] == "none"
            || request["messages"] is not JsonArray { Count: > 0 } messages || (string?)messages[^1]?["role"] != "user"
            || (messages[^1]?["content"] as JsonArray)?.Any(b => (string?)b?["type"] == "tool_result") == true)
        {
            return null;
        }

        var named = (string?)choice?["type"] == "tool" ? (string?)choice?["name"] : null;
        var tool = tools.FirstOrDefault(t => named is null || (string?)t?["name"] == named) ?? tools[0]!;
        var input = new JsonObject();
        foreach (var (name, property) in tool!["input_schema"]?["properties"] as JsonObject ?? [])
        {
            input[name] = property?["enum"] is JsonArray { Count: > 0 } values ? values[0]?.DeepClone() : (string?)property?["type"] switch
            {
                "string" => "relay",
                "integer" or "number" => 42,
                "boolean" => true,
                "array" => new JsonArray(),
                "object" => new JsonObject(),
                _ => null,
            };
        }

        return new JsonObject
        {
            ["type"] = "tool_use", ["id"] = "toolu_" + Guid.NewGuid().ToString("N")[..24], ["name"] = tool["name"]?.DeepClone(), ["input"] = input,
        };
    }

    private static int Directive(JsonObject simulatorBody, string key)
    {
        var value = 0;
        foreach (var text in SimulatorScript.PromptTexts(simulatorBody))
        {
            foreach (Match directive in DirectivePattern().Matches(text))
            {
                var pair = directive.Groups[1].Value.Split(' ').Select(p => p.Split('=', 2)).LastOrDefault(p => p.Length == 2 && p[0] == key);
                value = pair is not null && int.TryParse(pair[1], NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : value;
            }
        }

        return value;
    }

    [GeneratedRegex(@"\[\[sim ([^\]]*)\]\]")]
    private static partial Regex DirectivePattern();
}
