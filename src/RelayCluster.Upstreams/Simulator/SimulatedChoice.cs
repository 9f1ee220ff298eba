using System.Text.Json;
using System.Text.Json.Nodes;

namespace RelayCluster.Upstreams.Simulator;

/// <summary>
/// A tool call a simulated choice makes: its id, the function's name and the argument text's fragments; its pieces
/// are the choice's from <paramref name="Start"/> on: its name first, then the fragments.
/// </summary>
internal sealed record SimulatedToolCall(int Index, int Start, string Id, string Name, IReadOnlyList<string> Fragments)
{
    public int End => Start + 1 + Fragments.Count;

    /// <summary>The arguments as sent within a cap of <paramref name="count"/> pieces.</summary>
    public string Arguments(int count) => string.Concat(Fragments.Take(Math.Max(0, count - Start - 1)));
}

/// <summary>
/// One choice of a simulated answer, as pieces of one token each, made on demand (a long answer never sits in
/// memory whole). A text choice's pieces are its content; a tool-call choice's are its calls' one after the other,
/// each call's name (sent with its id and empty arguments) then its argument fragments. The request's output cap applies to
/// each choice, as OpenAI's <c>max_completion_tokens</c> does: a choice cut by it ends with <c>"length"</c>.
/// </summary>
internal sealed class SimulatedChoice(int index, int count, Func<int, string> piece, IReadOnlyList<SimulatedToolCall> calls, string finishReason)
{
    public int Index => index;

    /// <summary>Output tokens of this choice (its pieces after the cap); the usage counts their sum over choices.</summary>
    public int Count => count;

    /// <summary>The tool calls begun within the cap; none for a text choice.</summary>
    public IEnumerable<SimulatedToolCall> Calls => calls.Where(c => c.Start < count);

    public bool IsToolCall => calls.Count > 0;

    /// <summary>The call piece <paramref name="step"/> belongs to.</summary>
    public SimulatedToolCall CallAt(int step) => calls.First(c => step < c.End);

    public string FinishReason => finishReason;

    public string Piece(int i) => piece(i);

    /// <summary>The content of a text choice.</summary>
    public string Text() => string.Concat(Enumerable.Range(0, count).Select(piece));

    /// <summary>OpenAI's most choices a request may ask for; the relay refuses more, MockUpstream (called directly) caps.</summary>
    public const int MaxChoices = 128;

    /// <summary>The choices a request asks for: <c>n</c> of them (1 by default, at most <see cref="MaxChoices"/>), indexed 0..n-1.</summary>
    public static List<SimulatedChoice> For(JsonObject body, SimulatorScript script, uint promptSeed, IReadOnlyList<string> words)
    {
        var n = body["n"] is JsonValue v && v.TryGetValue<int>(out var count) && count > 1 ? Math.Min(count, MaxChoices) : 1;

        // A seed makes the words its own, but the same for the same seed (OpenAI's best-effort determinism, exact here).
        var seed = body["seed"] is JsonValue s && s.GetValueKind() == JsonValueKind.Number ? promptSeed ^ Fnv(s.ToJsonString()) : promptSeed;
        // Tool arguments and schema answers are the same for every choice (the same schema gives the same instance):
        // made once and shared, as 128 choices calling 128 tools would otherwise make them 16,384 times over.
        var tools = ToolPieces(SimulatorTools.Chosen(body), words);
        var responseFormat = body["response_format"] as JsonObject;
        var format = responseFormat?["type"] is JsonValue f && f.TryGetValue<string>(out var type) ? type : null;
        var schemaAnswer = tools is null && format == "json_schema"
            ? Fragments(SimulatorSchema.Instance((responseFormat?["json_schema"] as JsonObject)?["schema"], words))
            : null;
        var choices = new List<SimulatedChoice>(n);
        for (var i = 0; i < n; i++)
        {
            // Choice 0 keeps the words an answer without n has; the others start elsewhere in the word list.
            var start = (int)((seed + (uint)(i * 3)) % (uint)words.Count);
            choices.Add(tools is { } calls
                ? ToolChoice(i, calls, script)
                : format switch
                {
                    "json_object" => JsonObjectChoice(i, start, script, words),
                    "json_schema" => Fragmented(i, schemaAnswer!, [], "stop", script),
                    _ => Capped(i, script.RequestedTokens, t => (t == 0 ? "" : " ") + Word(words, start, t), [], "stop", script),
                });
        }

        return choices;
    }

    /// <summary><c>{"answer":"…"}</c>, its words one token each, its braces one token each: a valid object unless cut.</summary>
    private static SimulatedChoice JsonObjectChoice(int index, int start, SimulatorScript script, IReadOnlyList<string> words)
    {
        var total = Math.Max(2, script.RequestedTokens);
        return Capped(index, total, t => t == 0 ? "{\"answer\":\"" : t == total - 1 ? "\"}" : (t == 1 ? "" : " ") + Word(words, start, t - 1), [], "stop", script);
    }

    /// <summary>
    /// The calls of <paramref name="tools"/> as every choice makes them (ids aside) and their pieces: each call's name,
    /// then its arguments, always a JSON object as OpenAI's are (no parameters: <c>{}</c>). Null for no tools.
    /// </summary>
    private static (List<SimulatedToolCall> Calls, List<string> Pieces)? ToolPieces(List<JsonObject> tools, IReadOnlyList<string> words)
    {
        if (tools.Count == 0)
        {
            return null;
        }

        var calls = new List<SimulatedToolCall>(tools.Count);
        var pieces = new List<string>();
        foreach (var tool in tools)
        {
            var arguments = Fragments(tool["parameters"] is JsonObject parameters ? SimulatorSchema.Instance(parameters, words) as JsonObject ?? [] : []);
            calls.Add(new SimulatedToolCall(calls.Count, pieces.Count, "", (string)tool["name"]!, arguments));
            pieces.Add("");
            pieces.AddRange(arguments);
        }

        return (calls, pieces);
    }

    /// <summary>A choice making the shared <paramref name="tools"/> calls, each with an id of its own.</summary>
    private static SimulatedChoice ToolChoice(int index, (List<SimulatedToolCall> Calls, List<string> Pieces) tools, SimulatorScript script) =>
        Fragmented(index, tools.Pieces, [.. tools.Calls.Select(c => c with { Id = "call_" + Guid.NewGuid().ToString("N")[..24] })], "tool_calls", script);

    private static SimulatedChoice Fragmented(int index, List<string> pieces, IReadOnlyList<SimulatedToolCall> calls, string finishReason, SimulatorScript script) =>
        Capped(index, pieces.Count, t => pieces[t], calls, finishReason, script);

    private static SimulatedChoice Capped(int index, int natural, Func<int, string> piece, IReadOnlyList<SimulatedToolCall> calls, string finishReason, SimulatorScript script) =>
        natural > script.OutputCap
            ? new SimulatedChoice(index, script.OutputCap, piece, calls, "length")
            : new SimulatedChoice(index, natural, piece, calls, finishReason);

    /// <summary>A JSON text in fragments of about four characters, the length of an average token.</summary>
    private static List<string> Fragments(JsonNode? json)
    {
        var text = json?.ToJsonString() ?? "null";
        return [.. text.Chunk(4).Select(c => new string(c))];
    }

    private static string Word(IReadOnlyList<string> words, int start, int t) => words[(int)((start + (t * 7L)) % words.Count)];

    public static uint Fnv(string text)
    {
        var hash = 2166136261u;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return hash;
    }
}
