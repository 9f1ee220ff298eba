using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using RelayCluster.Core.Configuration;

namespace RelayCluster.Upstreams.Simulator;

/// <summary>
/// A deterministic OpenAI-compatible model: the same prompt always gives the same words, counts its
/// prompt as one token a whitespace-separated word (a tokenizer the relay does not share, so tests can
/// tell reported usage from the relay's own estimate), and honours <c>max_tokens</c> with
/// <c>finish_reason: "length"</c>. Used in-process by the simulator provider and over HTTP by MockUpstream.
/// </summary>
public sealed class SimulatorEngine(SimulatorOptions defaults, TimeProvider time)
{
    private static readonly string[] Words =
    [
        "relay", "token", "stream", "cluster", "grain", "budget", "window", "silo", "model", "route",
        "quota", "batch", "signal", "tenant", "usage", "latency", "upstream", "fallback", "shadow", "ledger",
        "chunk", "lease", "retry", "event", "delta", "choice", "prompt", "reply", "limit", "cache", "node", "turn",
    ];

    // Requests seen per prompt, for transient errors (error_times); only prompts that ask for them are counted.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _failuresByPrompt = new(StringComparer.Ordinal);

    /// <summary>
    /// The most tokens one answer may have when neither the request nor the relay caps it, as a real model has an
    /// output limit (the relay always passes its cap; only a direct call to MockUpstream may set none).
    /// </summary>
    public const int UncappedOutputLimit = ModelOptions.StandardMaxOutputTokens;

    /// <summary>
    /// The script for a request, its output count capped as a real provider caps it: by the body's
    /// <c>max_completion_tokens</c> (else <c>max_tokens</c>), by <paramref name="outputCap"/> (the cap the relay's
    /// reservation used), and by <see cref="UncappedOutputLimit"/> without either. A capped answer ends with
    /// <c>finish_reason: "length"</c>.
    /// </summary>
    public SimulatorScript ScriptFor(JsonObject body, long? outputCap = null)
    {
        var script = SimulatorScript.For(body, defaults);
        var cap = Math.Min(MaxTokens(body) ?? long.MaxValue, outputCap ?? long.MaxValue);
        cap = cap == long.MaxValue ? UncappedOutputLimit : Math.Max(0, cap);
        script = script with { RequestedTokens = script.OutputTokens, OutputCap = (int)Math.Min(cap, int.MaxValue) };
        if (script.OutputTokens > cap)
        {
            script = script with { OutputTokens = (int)cap, StopsAtCap = true };
        }

        if (script is { ErrorStatus: not null, ErrorTimes: { } times })
        {
            var seen = _failuresByPrompt.AddOrUpdate(string.Join('\n', SimulatorScript.PromptTexts(body)), 1, (_, n) => n + 1);
            if (seen > times)
            {
                script = script with { ErrorStatus = null };
            }
        }

        return script;
    }

    /// <summary>The 400 body a provider gives a request it cannot follow (see <see cref="SimulatorTools.Refusal"/>), or null.</summary>
    public static byte[]? RefusalBody(JsonObject body) => SimulatorTools.Refusal(body) is { } refusal
        ? JsonSerializer.SerializeToUtf8Bytes(new JsonObject
        {
            ["error"] = new JsonObject
            {
                ["message"] = refusal.Message,
                ["type"] = "invalid_request_error",
                ["param"] = refusal.Param,
                ["code"] = null,
            },
        })
        : null;

    /// <summary>The error body and status a script asks for before any output, or null.</summary>
    public static byte[] ErrorBody(int status) => JsonSerializer.SerializeToUtf8Bytes(new JsonObject
    {
        ["error"] = new JsonObject
        {
            ["message"] = $"Simulated upstream error {status}.",
            ["type"] = status == 429 ? "requests" : status >= 500 ? "server_error" : "invalid_request_error",
            ["param"] = null,
            ["code"] = status == 429 ? "rate_limit_exceeded" : null,
        },
    });

    /// <summary>
    /// A chat completion as OpenAI answers it: <c>n</c> choices, each text, a JSON object or schema instance
    /// (<c>response_format</c>), or a tool call (<c>tools</c>/<c>tool_choice</c>), with <c>logprobs</c> when asked;
    /// the usage counts every choice's tokens. See <see cref="SimulatedChoice"/> and <see cref="SimulatorTools"/>.
    /// </summary>
    public byte[] ChatCompletion(JsonObject body, SimulatorScript script)
    {
        var plan = Plan(body, script);
        return Json(w =>
        {
            foreach (var _ in WriteChatCompletion(w, plan, script))
            {
                // written whole into the buffer
            }
        });
    }

    /// <summary>
    /// Writes the chat completion to <paramref name="output"/> as it is made, a choice at a time, as a provider sends a
    /// large answer: the whole body is never held (128 choices with logprobs are hundreds of MB), and a reader that
    /// stops, as the relay does past its response limit, stops the writing.
    /// </summary>
    public async Task WriteChatCompletionAsync(Stream output, JsonObject body, SimulatorScript script, CancellationToken cancellationToken)
    {
        var plan = Plan(body, script);
        await using var writer = new Utf8JsonWriter(output);
        foreach (var _ in WriteChatCompletion(writer, plan, script))
        {
            if (writer.BytesPending >= 32 * 1024)
            {
                await writer.FlushAsync(cancellationToken);
            }
        }

        await writer.FlushAsync(cancellationToken);
    }

    /// <summary>Writes the completion, yielding after each choice so that the caller can send what is written so far.</summary>
    private static IEnumerable<int> WriteChatCompletion(Utf8JsonWriter w, ChatPlan plan, SimulatorScript script)
    {
        w.WriteStartObject();
        WriteHeader(w, plan, "chat.completion");
        w.WriteStartArray("choices");
        foreach (var choice in plan.Choices)
        {
            SimulatorChatWriter.WriteChoice(w, choice, plan.Logprobs, Words);
            yield return choice.Index;
        }

        w.WriteEndArray();
        if (script.ReportUsage)
        {
            WriteUsage(w, plan.PromptTokens, plan.CompletionTokens);
        }

        w.WriteEndObject();
    }

    /// <summary>
    /// Writes a chat completion as SSE, pacing tokens by the script: a role chunk per choice, then each step's
    /// token of every choice (a chunk per choice index, as OpenAI interleaves them), a finish chunk per choice and
    /// the usage. Throws <see cref="SimulatedDropException"/> where the script drops the connection.
    /// </summary>
    public async Task WriteChatStreamAsync(Stream output, JsonObject body, SimulatorScript script, CancellationToken cancellationToken)
    {
        var plan = Plan(body, script);
        var includeUsage = (body["stream_options"] as JsonObject)?["include_usage"] is JsonValue v && v.TryGetValue<bool>(out var b) && b;
        await DelayAsync(script.TimeToFirstTokenMs, cancellationToken);
        foreach (var choice in plan.Choices)
        {
            await WriteEventAsync(output, Chunk(plan, includeUsage, w => SimulatorChatWriter.WriteStartChunk(w, choice)), cancellationToken);
        }

        var steps = plan.Choices.Max(c => c.Count);
        for (var i = 0; i < steps; i++)
        {
            if (i == script.MidStreamErrorAfter)
            {
                await WriteEventAsync(output, ErrorBody(502), cancellationToken);
                return;
            }

            if (i == script.DropAfter)
            {
                throw new SimulatedDropException();
            }

            if (i > 0)
            {
                await DelayAsync(script.TokenIntervalMs, cancellationToken);
            }

            foreach (var choice in plan.Choices.Where(c => i < c.Count))
            {
                var step = i; // made as it is sent: a long answer never sits in memory whole
                await WriteEventAsync(output, Chunk(plan, includeUsage, w => SimulatorChatWriter.WriteStepChunk(w, choice, step, plan.Logprobs, Words)), cancellationToken);
            }
        }

        foreach (var choice in plan.Choices)
        {
            await WriteEventAsync(output, Chunk(plan, includeUsage, w => SimulatorChatWriter.WriteFinishChunk(w, choice)), cancellationToken);
        }

        if (includeUsage && script.ReportUsage)
        {
            await WriteEventAsync(output, Json(w =>
            {
                w.WriteStartObject();
                WriteHeader(w, plan, "chat.completion.chunk");
                w.WriteStartArray("choices");
                w.WriteEndArray();
                WriteUsage(w, plan.PromptTokens, plan.CompletionTokens);
                w.WriteEndObject();
            }), cancellationToken);
        }

        await output.WriteAsync("data: [DONE]\n\n"u8.ToArray(), cancellationToken);
        await output.FlushAsync(cancellationToken);
    }

    /// <summary>An embeddings answer as one array (the mock upstream's HTTP answer).</summary>
    public byte[] Embeddings(JsonObject body, SimulatorScript script)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            foreach (var _ in WriteEmbeddings(writer, body, script))
            {
                // written whole into the buffer
            }
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Writes an embeddings answer to <paramref name="output"/> as it is made, one vector at a time, as a provider
    /// sends a large answer: the whole body is never held (a reader that stops, as the relay does past its response
    /// limit, stops the writing through the pipe's back-pressure and cancellation).
    /// </summary>
    public async Task WriteEmbeddingsAsync(Stream output, JsonObject body, SimulatorScript script, CancellationToken cancellationToken)
    {
        await using var writer = new Utf8JsonWriter(output);
        foreach (var _ in WriteEmbeddings(writer, body, script))
        {
            if (writer.BytesPending >= 32 * 1024)
            {
                await writer.FlushAsync(cancellationToken);
            }
        }

        await writer.FlushAsync(cancellationToken);
    }

    /// <summary>Writes the answer, yielding after each vector so that the caller can send what is written so far.</summary>
    private IEnumerable<int> WriteEmbeddings(Utf8JsonWriter w, JsonObject body, SimulatorScript script)
    {
        var inputs = EmbeddingInputs(body["input"]);
        var dimensions = body["dimensions"] is JsonValue d && d.TryGetValue<int>(out var dims) ? dims : defaults.EmbeddingDimensions;
        var asBase64 = body["encoding_format"] is JsonValue f && f.TryGetValue<string>(out var format) && format == "base64";
        var promptTokens = inputs.Sum(i => i.Tokens);
        w.WriteStartObject();
        w.WriteString("object", "list");
        w.WriteStartArray("data");
        for (var i = 0; i < inputs.Count; i++)
        {
            w.WriteStartObject();
            w.WriteString("object", "embedding");
            w.WriteNumber("index", i);
            var vector = Vector(inputs[i].Seed, dimensions);
            if (asBase64)
            {
                w.WriteBase64String("embedding", MemoryMarshal.AsBytes(vector.AsSpan()));
            }
            else
            {
                w.WriteStartArray("embedding");
                foreach (var value in vector)
                {
                    w.WriteNumberValue(value);
                }

                w.WriteEndArray();
            }

            w.WriteEndObject();
            yield return i;
        }

        w.WriteEndArray();
        w.WriteString("model", ModelOf(body));
        if (script.ReportUsage)
        {
            w.WriteStartObject("usage");
            w.WriteNumber("prompt_tokens", promptTokens);
            w.WriteNumber("total_tokens", promptTokens);
            w.WriteEndObject();
        }

        w.WriteEndObject();
    }

    public Task DelayAsync(int milliseconds, CancellationToken cancellationToken) =>
        milliseconds > 0 ? Task.Delay(TimeSpan.FromMilliseconds(milliseconds), time, cancellationToken) : Task.CompletedTask;

    /// <summary>
    /// Prompt tokens as this simulated model counts them: under an OpenAI model name as OpenAI bills them
    /// (<see cref="OpenAiPromptBilling"/>), else a token a word, three a message, three to prime.
    /// </summary>
    public static int CountPromptTokens(JsonObject body)
    {
        if (OpenAiPromptBilling.PromptTokens(body) is { } billed)
        {
            return billed;
        }

        var messages = body["messages"] is JsonArray array ? array.Count : 0;
        return SimulatorScript.PromptTexts(body).Sum(CountWords) + (3 * messages) + 3;
    }

    private ChatPlan Plan(JsonObject body, SimulatorScript script) => new(
        "chatcmpl-" + Guid.NewGuid().ToString("N")[..24], time.GetUtcNow().ToUnixTimeSeconds(), ModelOf(body),
        SimulatedChoice.For(body, script, Fnv(string.Join('\n', SimulatorScript.PromptTexts(body))), Words),
        SimulatorChatWriter.LogprobsOf(body), CountPromptTokens(body));

    private static long? MaxTokens(JsonObject body)
    {
        foreach (var name in (ReadOnlySpan<string>)["max_completion_tokens", "max_tokens"])
        {
            if (body[name] is JsonValue v && v.GetValueKind() == JsonValueKind.Number)
            {
                // A cap too large for a long caps nothing; a negative one allows nothing.
                return v.TryGetValue<long>(out var cap) ? cap : v.TryGetValue<double>(out var huge) && huge < 0 ? 0 : long.MaxValue;
            }
        }

        return null;
    }

    private static string ModelOf(JsonObject body) => body["model"] is JsonValue m && m.TryGetValue<string>(out var model) ? model : "simulator";

    /// <summary>A chunk of one choice; every chunk but the last has <c>"usage": null</c> when usage will follow, as OpenAI sends it.</summary>
    private static byte[] Chunk(ChatPlan plan, bool includeUsage, Action<Utf8JsonWriter> choice) => Json(w =>
    {
        w.WriteStartObject();
        WriteHeader(w, plan, "chat.completion.chunk");
        w.WriteStartArray("choices");
        choice(w);
        w.WriteEndArray();
        if (includeUsage)
        {
            w.WriteNull("usage");
        }

        w.WriteEndObject();
    });

    private static void WriteHeader(Utf8JsonWriter w, ChatPlan plan, string objectType)
    {
        w.WriteString("id", plan.Id);
        w.WriteString("object", objectType);
        w.WriteNumber("created", plan.Created);
        w.WriteString("model", plan.Model);
    }

    private static void WriteUsage(Utf8JsonWriter w, long prompt, long completion)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", prompt);
        w.WriteNumber("completion_tokens", completion);
        w.WriteNumber("total_tokens", prompt + completion);
        w.WriteEndObject();
    }

    private static async Task WriteEventAsync(Stream output, byte[] json, CancellationToken cancellationToken)
    {
        var frame = new byte[json.Length + 8];
        "data: "u8.CopyTo(frame);
        json.CopyTo(frame, 6);
        frame[^2] = (byte)'\n';
        frame[^1] = (byte)'\n';
        await output.WriteAsync(frame, cancellationToken);
        await output.FlushAsync(cancellationToken);
    }

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static List<(uint Seed, int Tokens)> EmbeddingInputs(JsonNode? input) => input switch
    {
        JsonValue v when v.TryGetValue<string>(out var text) => [(Fnv(text), CountWords(text))],
        JsonArray items when items.All(i => i is JsonValue) && items.All(i => i!.GetValueKind() == JsonValueKind.Number) =>
            [(Fnv(items.ToJsonString()), items.Count)],
        JsonArray items => items.Select(i => i is JsonValue s && s.TryGetValue<string>(out var t)
            ? (Fnv(t), CountWords(t))
            : (Fnv(i?.ToJsonString() ?? ""), (i as JsonArray)?.Count ?? 1)).ToList(),
        _ => [(0u, 1)],
    };

    private static float[] Vector(uint seed, int dimensions)
    {
        var vector = new float[dimensions];
        var norm = 0.0;
        for (var i = 0; i < dimensions; i++)
        {
            vector[i] = (float)Math.Sin(seed + (i * 0.7));
            norm += vector[i] * vector[i];
        }

        var scale = norm > 0 ? (float)(1 / Math.Sqrt(norm)) : 0f;
        for (var i = 0; i < dimensions; i++)
        {
            vector[i] *= scale;
        }

        return vector;
    }

    private static int CountWords(string text) => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;

    private static uint Fnv(string text) => SimulatedChoice.Fnv(text);

    /// <summary>An answer's shape; its choices make their tokens on demand.</summary>
    /// <param name="Logprobs">The <c>top_logprobs</c> count when <c>logprobs</c> is asked for, else null.</param>
    private sealed record ChatPlan(string Id, long Created, string Model, List<SimulatedChoice> Choices, int? Logprobs, int PromptTokens)
    {
        public long CompletionTokens => Choices.Sum(c => (long)c.Count);
    }
}
