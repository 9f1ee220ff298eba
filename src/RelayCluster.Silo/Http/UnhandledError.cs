using RelayCluster.Core.Wire;

namespace RelayCluster.Silo.Http;

/// <summary>
/// The last resort for a bug: an OpenAI-style 500 rather than an empty body, with the request id the
/// exception handler cleared along with the other headers, so a user can quote it. The exception itself is
/// logged by the framework's handler.
/// </summary>
internal static class UnhandledError
{
    public static Task WriteAsync(HttpContext context)
    {
        context.Response.Headers["x-request-id"] = context.TraceIdentifier;
        return ErrorResponses.WriteAsync(context, RelayError.InternalError());
    }
}
