using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace RelayCluster.Upstreams.Anthropic;

/// <summary>
/// Facts of the Anthropic Messages wire format that the provider (translating) and MockUpstream
/// (imitating) must agree on, kept in one place so the two cannot drift apart.
/// </summary>
public static class AnthropicWire
{
    public const string MessagesPath = "v1/messages";

    /// <summary>Anthropic's <c>stop_reason</c> as an OpenAI <c>finish_reason</c>.</summary>
    public static string FinishReason(string? stopReason) => stopReason switch
    {
        "max_tokens" or "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop", // end_turn, stop_sequence, pause_turn (the turn is over as far as the caller can tell)
    };

    /// <summary>The <c>error.type</c> Anthropic sends with an HTTP status.</summary>
    public static string ErrorType(int status) => status switch
    {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        >= 500 => "api_error",
        _ => "invalid_request_error",
    };

    /// <summary>Anthropic's error envelope: <c>{"type":"error","error":{"type","message"},"request_id"}</c>.</summary>
    public static byte[] ErrorBody(string type, string message, string? requestId) => Json(w =>
    {
        w.WriteStartObject();
        w.WriteString("type", "error");
        w.WriteStartObject("error");
        w.WriteString("type", type);
        w.WriteString("message", message);
        w.WriteEndObject();
        if (requestId is not null)
        {
            w.WriteString("request_id", requestId);
        }

        w.WriteEndObject();
    });

    /// <summary>A string property of a JSON object, or null (absent, another kind, or not an object).</summary>
    internal static string? TextOf(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString() : null;

    /// <summary>
    /// Minimal escaping: these documents go to API clients, never into HTML, and tool arguments should read
    /// <c>{\"city\":…}</c> as OpenAI's do, not <c>{\u0022city\u0022:…}</c>.
    /// </summary>
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static byte[] Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            write(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }
}

/// <summary>
/// Anthropic's token counts. Its <c>input_tokens</c> excludes cached input, so the OpenAI prompt count is
/// the sum of all three input fields; cache reads are what OpenAI calls <c>cached_tokens</c>.
/// </summary>
public readonly record struct AnthropicUsage(long Input, long CacheCreation, long CacheRead, long Output)
{
    public long PromptTokens => Input + CacheCreation + CacheRead;

    /// <summary>
    /// Reads a <c>usage</c> object over <paramref name="previous"/>: fields present replace the earlier
    /// value, because a stream's <c>message_delta</c> counts are cumulative, not increments.
    /// </summary>
    public static AnthropicUsage Read(JsonElement usage, AnthropicUsage previous) => usage.ValueKind != JsonValueKind.Object
        ? previous
        : new AnthropicUsage(
            Field(usage, "input_tokens") ?? previous.Input,
            Field(usage, "cache_creation_input_tokens") ?? previous.CacheCreation,
            Field(usage, "cache_read_input_tokens") ?? previous.CacheRead,
            Field(usage, "output_tokens") ?? previous.Output);

    /// <summary>Writes the OpenAI <c>usage</c> object.</summary>
    public void WriteOpenAi(Utf8JsonWriter w)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", PromptTokens);
        w.WriteNumber("completion_tokens", Output);
        w.WriteNumber("total_tokens", PromptTokens + Output);
        w.WriteStartObject("prompt_tokens_details");
        w.WriteNumber("cached_tokens", CacheRead);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>Writes Anthropic's own <c>usage</c> object (for MockUpstream).</summary>
    public void WriteAnthropic(Utf8JsonWriter w)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("input_tokens", Input);
        w.WriteNumber("cache_creation_input_tokens", CacheCreation);
        w.WriteNumber("cache_read_input_tokens", CacheRead);
        w.WriteNumber("output_tokens", Output);
        w.WriteEndObject();
    }

    private static long? Field(JsonElement usage, string name) =>
        usage.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var n) ? n : null;
}
