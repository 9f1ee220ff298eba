using Microsoft.AspNetCore.Diagnostics;
using RelayCluster.Core.Wire;

namespace RelayCluster.Silo.Http;

/// <summary>
/// A /v1 path or method the relay does not serve gets OpenAI's "Invalid URL" envelope instead of an empty
/// 404/405, so SDK users see what went wrong (typically a base URL without <c>/v1</c>, or a typo).
/// </summary>
internal static class InvalidUrl
{
    public static Task WriteAsync(StatusCodeContext status)
    {
        var context = status.HttpContext;
        if (context.Response.StatusCode is not (404 or 405) || !context.Request.Path.StartsWithSegments("/v1"))
        {
            return Task.CompletedTask;
        }

        return ErrorResponses.WriteAsync(context, new RelayError(context.Response.StatusCode, new OpenAiError(
            $"Invalid URL ({context.Request.Method} {context.Request.Path}).", "invalid_request_error", null, null), ShouldRetry: false));
    }
}
