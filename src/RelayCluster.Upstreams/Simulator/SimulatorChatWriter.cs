using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RelayCluster.Upstreams.Simulator;

/// <summary>
/// The simulator's choices in OpenAI's chat wire shapes (platform.openai.com/docs/api-reference/chat/object and
/// …/chat-streaming): a whole choice; and a stream's role chunk, token chunks (content, or each tool call's id and
/// name then its argument fragments, at the call's <c>tool_calls[].index</c>) and finish chunk. With <c>logprobs</c>,
/// every content token carries <c>{token, logprob, bytes, top_logprobs}</c>, the latter <c>top_logprobs</c> long
/// and led by the token itself; a tool call has none, as OpenAI gives none.
/// </summary>
internal static class SimulatorChatWriter
{
    /// <summary>The <c>top_logprobs</c> count when the body asks for <c>logprobs</c>, else null.</summary>
    public static int? LogprobsOf(JsonObject body) =>
        body["logprobs"] is JsonValue v && v.TryGetValue<bool>(out var on) && on
            ? body["top_logprobs"] is JsonValue t && t.TryGetValue<int>(out var top) ? Math.Clamp(top, 0, 20) : 0
            : null;

    public static void WriteChoice(Utf8JsonWriter w, SimulatedChoice choice, int? logprobs, IReadOnlyList<string> words)
    {
        w.WriteStartObject();
        w.WriteNumber("index", choice.Index);
        w.WriteStartObject("message");
        w.WriteString("role", "assistant");
        if (choice.IsToolCall)
        {
            w.WriteNull("content");
            w.WriteNull("refusal");
            w.WriteStartArray("tool_calls");
            foreach (var call in choice.Calls)
            {
                w.WriteStartObject();
                w.WriteString("id", call.Id);
                w.WriteString("type", "function");
                w.WriteStartObject("function");
                w.WriteString("name", call.Name);
                w.WriteString("arguments", call.Arguments(choice.Count));
                w.WriteEndObject();
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }
        else
        {
            w.WriteString("content", choice.Text());
            w.WriteNull("refusal");
        }

        w.WriteEndObject();
        WriteLogprobs(w, choice, logprobs, words, 0, choice.Count);
        w.WriteString("finish_reason", choice.FinishReason);
        w.WriteEndObject();
    }

    /// <summary>The first chunk of a choice: its role, with empty content (null for a tool call, as OpenAI sends it).</summary>
    public static void WriteStartChunk(Utf8JsonWriter w, SimulatedChoice choice) => WriteChunkChoice(w, choice.Index, d =>
    {
        d.WriteString("role", "assistant");
        if (!choice.IsToolCall)
        {
            d.WriteString("content", "");
        }
        else
        {
            d.WriteNull("content");
        }
    }, null, null);

    /// <summary>Token <paramref name="step"/> of a choice.</summary>
    public static void WriteStepChunk(Utf8JsonWriter w, SimulatedChoice choice, int step, int? logprobs, IReadOnlyList<string> words)
    {
        var piece = choice.Piece(step);
        if (!choice.IsToolCall)
        {
            WriteChunkChoice(w, choice.Index, d => d.WriteString("content", piece), logprobs is null ? null : l => WriteLogprobs(l, choice, logprobs, words, step, step + 1), null);
            return;
        }

        var call = choice.CallAt(step);
        var first = step == call.Start;
        WriteChunkChoice(w, choice.Index, d =>
        {
            d.WriteStartArray("tool_calls");
            d.WriteStartObject();
            d.WriteNumber("index", call.Index);
            if (first)
            {
                d.WriteString("id", call.Id);
                d.WriteString("type", "function");
            }

            d.WriteStartObject("function");
            if (first)
            {
                d.WriteString("name", call.Name);
            }

            d.WriteString("arguments", piece);
            d.WriteEndObject();
            d.WriteEndObject();
            d.WriteEndArray();
        }, null, null);
    }

    public static void WriteFinishChunk(Utf8JsonWriter w, SimulatedChoice choice) =>
        WriteChunkChoice(w, choice.Index, _ => { }, null, choice.FinishReason);

    private static void WriteChunkChoice(Utf8JsonWriter w, int index, Action<Utf8JsonWriter> delta, Action<Utf8JsonWriter>? logprobs, string? finishReason)
    {
        w.WriteStartObject();
        w.WriteNumber("index", index);
        w.WriteStartObject("delta");
        delta(w);
        w.WriteEndObject();
        if (logprobs is null)
        {
            w.WriteNull("logprobs");
        }
        else
        {
            logprobs(w);
        }

        if (finishReason is null)
        {
            w.WriteNull("finish_reason");
        }
        else
        {
            w.WriteString("finish_reason", finishReason);
        }

        w.WriteEndObject();
    }

    /// <summary><c>"logprobs": {"content": [...], "refusal": null}</c> for tokens [from, to) of a text choice, else null.</summary>
    private static void WriteLogprobs(Utf8JsonWriter w, SimulatedChoice choice, int? top, IReadOnlyList<string> words, int from, int to)
    {
        if (top is null || choice.IsToolCall)
        {
            w.WriteNull("logprobs");
            return;
        }

        w.WriteStartObject("logprobs");
        w.WriteStartArray("content");
        for (var i = from; i < to; i++)
        {
            var token = choice.Piece(i);
            var logprob = Logprob(token, i);
            w.WriteStartObject();
            WriteToken(w, token, logprob);
            w.WriteStartArray("top_logprobs");
            for (var k = 0; k < top; k++)
            {
                // The chosen token is the likeliest; the alternatives are other words, each less likely.
                var alternative = k == 0 ? token : (i == 0 ? "" : " ") + words[(int)((SimulatedChoice.Fnv(token) + (uint)k) % (uint)words.Count)] + (k > words.Count / 2 ? k.ToString(CultureInfo.InvariantCulture) : "");
                w.WriteStartObject();
                WriteToken(w, alternative, Math.Round(logprob - (k * 0.75), 6));
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteNull("refusal");
        w.WriteEndObject();
    }

    private static void WriteToken(Utf8JsonWriter w, string token, double logprob)
    {
        w.WriteString("token", token);
        w.WriteNumber("logprob", logprob);
        w.WriteStartArray("bytes");
        foreach (var b in Encoding.UTF8.GetBytes(token))
        {
            w.WriteNumberValue(b);
        }

        w.WriteEndArray();
    }

    /// <summary>A deterministic log probability in (-1, 0]: the same token at the same place always gets the same.</summary>
    private static double Logprob(string token, int position) =>
        -Math.Round(((SimulatedChoice.Fnv(token) + (uint)position) % 1000) / 1000.0, 6);
}
