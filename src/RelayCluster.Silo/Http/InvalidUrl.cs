using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.WebUtilities;
using RelayCluster.Core.Wire;

namespace RelayCluster.Silo.Http;

/// <summary>
/// Every error status the framework answers without a body (an unknown path or method anywhere, a parameter that
/// does not bind, a wrong content type) gets the OpenAI envelope instead of an empty response, so SDK users see what
/// went wrong (typically a base URL without <c>/v1</c>, or a typo). Responses that already have a body (the relay's own
/// errors, SignalR's answers, the health checks) are left alone: status-code pages only act on empty ones.
/// </summary>
internal static class InvalidUrl
{
    public static Task WriteAsync(StatusCodeContext status)
    {
        var context = status.HttpContext;
        var code = context.Response.StatusCode;
        if (code < 400)
        {
            return Task.CompletedTask;
        }

        var request = context.Request;
        var what = $"{request.Method} {request.Path}";
        var error = code switch
        {
            404 or 405 => NotFound(request).Error,
            >= 500 => new OpenAiError($"The relay could not serve {what}: {ReasonPhrases.GetReasonPhrase(code)}.", "server_error", null, null),
            _ => new OpenAiError($"{ReasonPhrases.GetReasonPhrase(code)} ({what}).", "invalid_request_error", null, null),
        };
        return ErrorResponses.WriteAsync(context, new RelayError(code, error, ShouldRetry: code >= 500 ? null : false));
    }

    /// <summary>The 404 "Invalid URL" error for a request no route serves (or may serve).</summary>
    public static RelayError NotFound(HttpRequest request) => new(
        StatusCodes.Status404NotFound,
        new OpenAiError($"Invalid URL ({request.Method} {request.Path}).", "invalid_request_error", null, null),
        ShouldRetry: false);
}
