using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RelayCluster.Core.Configuration;

namespace RelayCluster.Upstreams.Simulator;

/// <summary>
/// How the simulator behaves for one request: the provider's defaults, overridden by a directive in the
/// prompt such as <c>[[sim tokens=5 ttft=200 mid_error=3]]</c>. A directive travels inside the body,
/// so it reaches the in-process simulator and the standalone MockUpstream alike, through any relay.
/// </summary>
/// <param name="ErrorStatus">Answer with this HTTP status before any output.</param>
/// <param name="MidStreamErrorAfter">Send an error event after this many tokens, then end.</param>
/// <param name="DropAfter">Drop the connection after this many tokens, with no error and no [DONE].</param>
/// <param name="ReportUsage">False to report no usage at all, as some providers do.</param>
public sealed partial record SimulatorScript(
    int TimeToFirstTokenMs,
    int TokenIntervalMs,
    int OutputTokens,
    int? ErrorStatus,
    int? RetryAfterSeconds,
    int? MidStreamErrorAfter,
    int? DropAfter,
    bool ReportUsage)
{
    /// <summary>
    /// With <see cref="ErrorStatus"/>: fail only the first this-many requests with the same prompt, then answer
    /// normally (a transient failure, for retry tests).
    /// </summary>
    public int? ErrorTimes { get; init; }

    /// <summary><see cref="OutputTokens"/> was lowered to the request's output cap: the answer ends with "length".</summary>
    public bool StopsAtCap { get; init; }

    /// <summary>The output cap of each choice (the body's, the relay's, or the engine's own limit).</summary>
    public int OutputCap { get; init; } = int.MaxValue;

    /// <summary>The tokens a text answer would have without the cap (the directive's or the default).</summary>
    public int RequestedTokens { get => field < 0 ? OutputTokens : field; init; } = -1;

    public static SimulatorScript From(SimulatorOptions defaults) => new(
        defaults.TimeToFirstTokenMs, defaults.TokenIntervalMs, defaults.OutputTokens, null, null, null, null, true);

    public static SimulatorScript For(JsonObject body, SimulatorOptions defaults)
    {
        var script = From(defaults);
        foreach (var text in PromptTexts(body))
        {
            foreach (Match directive in DirectivePattern().Matches(text))
            {
                script = directive.Groups[1].Value
                    .Split(' ', StringSplitOptions.RemoveEmptyEntries)
                    .Select(pair => pair.Split('=', 2))
                    .Where(pair => pair.Length == 2)
                    .Aggregate(script, (s, pair) => s.With(pair[0], pair[1]));
            }
        }

        return script;
    }

    /// <summary>Every text of the prompt: message contents (and text parts) of a chat, inputs of embeddings.</summary>
    public static IEnumerable<string> PromptTexts(JsonObject body)
    {
        if (body["messages"] is JsonArray messages)
        {
            foreach (var message in messages.OfType<JsonObject>())
            {
                switch (message["content"])
                {
                    case JsonValue value when value.TryGetValue<string>(out var text):
                        yield return text;
                        break;
                    case JsonArray parts:
                        foreach (var part in parts.OfType<JsonObject>())
                        {
                            if (part["text"] is JsonValue partText && partText.TryGetValue<string>(out var t))
                            {
                                yield return t;
                            }
                        }

                        break;
                }
            }
        }

        switch (body["input"])
        {
            case JsonValue value when value.TryGetValue<string>(out var single):
                yield return single;
                break;
            case JsonArray inputs:
                foreach (var input in inputs.OfType<JsonValue>())
                {
                    if (input.TryGetValue<string>(out var text))
                    {
                        yield return text;
                    }
                }

                break;
        }
    }

    private SimulatorScript With(string key, string value)
    {
        var number = int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : (int?)null;
        return key switch
        {
            "ttft" when number >= 0 => this with { TimeToFirstTokenMs = n },
            "interval" when number >= 0 => this with { TokenIntervalMs = n },
            "tokens" when number >= 0 => this with { OutputTokens = n },
            "error" when number is >= 400 and <= 599 => this with { ErrorStatus = n },
            "error_times" when number >= 0 => this with { ErrorTimes = n },
            "retry_after" when number >= 0 => this with { RetryAfterSeconds = n },
            "mid_error" when number >= 0 => this with { MidStreamErrorAfter = n },
            "drop" when number >= 0 => this with { DropAfter = n },
            "usage" => this with { ReportUsage = value != "none" },
            _ => this,
        };
    }

    [GeneratedRegex(@"\[\[sim ([^\]]*)\]\]")]
    private static partial Regex DirectivePattern();
}
