using System.Text.Json;
using RelayCluster.Core.Wire;

namespace RelayCluster.Silo.Relay;

/// <summary>
/// Turns an upstream's error answer into the relay's: the caller's own mistakes (4xx) pass through with
/// the upstream's message; the upstream rejecting the relay's credentials is the relay's failure (502),
/// not the caller's; rate limits and outages keep their status and a Retry-After.
/// </summary>
internal static class UpstreamErrors
{
    public static RelayError Map(int status, ReadOnlySpan<byte> body, TimeSpan? retryAfter)
    {
        var upstream = ReadError(body);
        return status switch
        {
            401 or 403 => new RelayError(502, new OpenAiError(
                "The upstream provider rejected the relay's credentials.", "server_error", null, "upstream_auth_failed"), TimeSpan.FromSeconds(1)),
            429 => new RelayError(429, upstream ?? new OpenAiError("The upstream provider is rate limiting requests.", "requests", null, "rate_limit_exceeded"),
                retryAfter ?? TimeSpan.FromSeconds(1)),
            >= 500 => new RelayError(status is 500 or 502 or 503 or 504 ? status : 502,
                upstream ?? new OpenAiError($"The upstream provider failed with status {status}.", "server_error", null, null),
                retryAfter ?? TimeSpan.FromSeconds(1)),
            >= 400 => new RelayError(status, upstream ?? new OpenAiError(
                $"The upstream provider refused the request with status {status}.", "invalid_request_error", null, null), ShouldRetry: false),
            _ => new RelayError(502, new OpenAiError($"The upstream provider answered with unexpected status {status}.", "server_error", null, null)),
        };
    }

    private static OpenAiError? ReadError(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            using var document = JsonDocument.ParseValue(ref reader);
            return ReadError(document.RootElement);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The <c>error</c> object of an upstream answer, or null if it has none. A bare string error is its message.</summary>
    public static OpenAiError? ReadError(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("error", out var error))
        {
            return null;
        }

        return error.ValueKind switch
        {
            JsonValueKind.Object => new OpenAiError(
                Text(error, "message") ?? "The upstream provider returned an error.",
                Text(error, "type") ?? "upstream_error",
                Text(error, "param"),
                Text(error, "code")),
            JsonValueKind.String => new OpenAiError(error.GetString()!, "upstream_error", null, null),
            _ => null,
        };
    }

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
