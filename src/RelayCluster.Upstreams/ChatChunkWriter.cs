using System.Text.Json;

namespace RelayCluster.Upstreams;

/// <summary>The parts of a <c>chat.completion.chunk</c> every producer of one writes the same way (simulator, Anthropic translation).</summary>
internal static class ChatChunkWriter
{
    /// <summary><c>"choices":[{"index":0,"delta":{…},"logprobs":null,"finish_reason":…}]</c>, then <c>"usage":null</c> if usage will follow.</summary>
    public static void WriteChoice(Utf8JsonWriter w, Action<Utf8JsonWriter> delta, string? finishReason, bool usageFollows)
    {
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        w.WriteStartObject("delta");
        delta(w);
        w.WriteEndObject();
        w.WriteNull("logprobs");
        if (finishReason is null)
        {
            w.WriteNull("finish_reason");
        }
        else
        {
            w.WriteString("finish_reason", finishReason);
        }

        w.WriteEndObject();
        w.WriteEndArray();
        if (usageFollows)
        {
            w.WriteNull("usage"); // as OpenAI sends it: every chunk but the last has "usage": null
        }
    }
}
