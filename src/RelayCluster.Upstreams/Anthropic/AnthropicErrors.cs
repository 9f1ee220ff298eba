using System.Text.Json;
using RelayCluster.Core.Configuration;

using static RelayCluster.Upstreams.Anthropic.AnthropicWire;

namespace RelayCluster.Upstreams.Anthropic;

/// <summary>
/// Anthropic errors in OpenAI's shape, so the relay (and the callers' SDKs) treat them exactly as an
/// OpenAI upstream's. Statuses pass through, except 529 (overloaded), which OpenAI clients do not know:
/// it becomes 503 with a Retry-After, a status every SDK retries after the delay.
/// </summary>
internal static class AnthropicErrors
{
    /// <param name="shouldRetry">Anthropic's <c>x-should-retry</c>, which the relay's retry decision honours as OpenAI's.</param>
    public static UpstreamResponse FromUpstream(int status, ReadOnlySpan<byte> body, TimeSpan? retryAfter, bool? shouldRetry, AnthropicOptions options)
    {
        var (type, message) = Read(body) ?? (AnthropicWire.ErrorType(status), $"The Anthropic upstream answered with status {status}.");
        if (status == 529)
        {
            status = 503;
            retryAfter ??= TimeSpan.FromSeconds(options.OverloadedRetryAfterSeconds);
        }

        return new UpstreamResponse(status, new MemoryStream(Envelope(message, type, null), writable: false), retryAfter, null) { ShouldRetry = shouldRetry };
    }

    /// <summary>
    /// A request the provider cannot express in the Messages API, never sent upstream: a 400 for the caller, but one
    /// that only this provider gives, so a route may still try a target of another provider.
    /// </summary>
    public static UpstreamResponse Unsupported(string message, string? param) => new(
        400, new MemoryStream(Envelope(message, "invalid_request_error", param, "unsupported_parameter"), writable: false), null, null)
    {
        RefusedByProvider = true,
    };

    /// <summary>A 2xx answer that is not the Message it should be: the upstream's failure.</summary>
    public static UpstreamResponse Unreadable(string what) =>
        Response(502, Envelope($"The Anthropic upstream sent an unreadable {what}.", "api_error", null));

    /// <summary>The <c>{"error":{…}}</c> data event that ends a stream, from an Anthropic <c>error</c> event.</summary>
    public static void WriteStreamError(Utf8JsonWriter w, JsonElement error)
    {
        var type = TextOf(error, "type") ?? "api_error";
        var message = TextOf(error, "message") ?? "The Anthropic upstream failed mid-stream.";
        WriteError(w, message, type, null, null);
    }

    /// <summary>
    /// The OpenAI error object for an Anthropic error type. The <c>type</c> is OpenAI's (what SDKs and
    /// callers branch on); the <c>code</c> keeps Anthropic's own type where OpenAI has no equivalent.
    /// </summary>
    public static void WriteError(Utf8JsonWriter w, string message, string anthropicType, string? param, string? code)
    {
        var (openAiType, openAiCode) = anthropicType switch
        {
            "invalid_request_error" => ("invalid_request_error", (string?)null),
            "authentication_error" => ("invalid_request_error", "invalid_api_key"),
            "permission_error" => ("invalid_request_error", "permission_denied"),
            "not_found_error" => ("invalid_request_error", "not_found"),
            "request_too_large" => ("invalid_request_error", "request_too_large"),
            "billing_error" => ("invalid_request_error", "billing_error"),
            "rate_limit_error" => ("requests", "rate_limit_exceeded"),
            "api_error" => ("server_error", null),
            "timeout_error" => ("server_error", "timeout"),
            "overloaded_error" => ("server_error", "overloaded"),
            _ => ("server_error", anthropicType),
        };
        w.WriteStartObject("error");
        w.WriteString("message", message);
        w.WriteString("type", openAiType);
        WriteNullable(w, "param", param);
        WriteNullable(w, "code", code ?? openAiCode);
        w.WriteEndObject();
    }

    private static byte[] Envelope(string message, string anthropicType, string? param, string? code = null) => AnthropicWire.Json(w =>
    {
        w.WriteStartObject();
        WriteError(w, message, anthropicType, param, code);
        w.WriteEndObject();
    });

    private static UpstreamResponse Response(int status, byte[] body) => new(status, new MemoryStream(body, writable: false), null, null);

    private static (string Type, string Message)? Read(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            using var document = JsonDocument.ParseValue(ref reader);
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object
                && TextOf(error, "type") is { } type)
            {
                return (type, TextOf(error, "message") ?? type);
            }
        }
        catch (JsonException)
        {
            // Not Anthropic's envelope (a proxy's HTML page, say): described by its status instead.
        }

        return null;
    }


    private static void WriteNullable(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }
}
