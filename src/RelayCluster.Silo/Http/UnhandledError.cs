using Microsoft.AspNetCore.Diagnostics;
using RelayCluster.Core.Tenants;
using RelayCluster.Core.Wire;

namespace RelayCluster.Silo.Http;

/// <summary>
/// The last resort, with the request id the exception handler cleared along with the other headers, so a
/// user can quote it. The state store being unreachable is expected in a cluster and fails closed: 503 with
/// Retry-After, no upstream call, nothing admitted. Anything else is a bug: an OpenAI-style 500 (the
/// framework's handler logs the exception).
/// </summary>
internal static class UnhandledError
{
    public static Task WriteAsync(HttpContext context)
    {
        context.Response.Headers["x-request-id"] = context.TraceIdentifier;
        var error = context.Features.Get<IExceptionHandlerFeature>()?.Error is StoreUnavailableException
            ? new RelayError(503, new OpenAiError(
                "The relay's state store is unavailable, so no request can be admitted. Please try again shortly.",
                "server_error", null, "store_unavailable"), TimeSpan.FromSeconds(1))
            : RelayError.InternalError();
        return ErrorResponses.WriteAsync(context, error);
    }
}
