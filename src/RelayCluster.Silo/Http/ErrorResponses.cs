using System.Globalization;
using System.Text.Json;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Api;
using RelayCluster.Upstreams.Sse;

namespace RelayCluster.Silo.Http;

/// <summary>Writes relay errors as the OpenAI envelope, with the retry headers the SDKs act on.</summary>
internal static class ErrorResponses
{
    public static async Task WriteAsync(HttpContext context, RelayError error)
    {
        var response = context.Response;
        response.StatusCode = error.Status;
        response.ContentType = "application/json";
        if (error.RetryAfter is { } retryAfter)
        {
            // Retry-After is whole seconds (at least 1); retry-after-ms carries the precise wait.
            response.Headers.RetryAfter = Math.Max(1, (long)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            response.Headers["retry-after-ms"] = Math.Max(1, (long)Math.Ceiling(retryAfter.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture);
        }

        if (error.ShouldRetry is { } shouldRetry)
        {
            response.Headers["x-should-retry"] = shouldRetry ? "true" : "false";
        }

        var body = JsonSerializer.SerializeToUtf8Bytes(new OpenAiErrorEnvelope(error.Error), SiloJsonContext.Default.OpenAiErrorEnvelope);
        response.ContentLength = body.Length;
        await response.Body.WriteAsync(body, context.RequestAborted);
    }

    /// <summary>
    /// Writes <paramref name="error"/> (see <see cref="WriteAsync"/>) and returns the empty result a minimal-API handler
    /// answers with once the response is written: the one way every endpoint fails with an envelope.
    /// </summary>
    public static async Task<IResult> FailAsync(HttpContext context, RelayError error)
    {
        await WriteAsync(context, error);
        return Results.Empty;
    }

    /// <summary>The same error as an SSE event, for failures after a stream's 200 was sent.</summary>
    public static byte[] AsSseEvent(OpenAiError error)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(new OpenAiErrorEnvelope(error), SiloJsonContext.Default.OpenAiErrorEnvelope);
        return SseFrame.Data(json);
    }
}
