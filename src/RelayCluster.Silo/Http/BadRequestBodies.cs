using Microsoft.AspNetCore.Http.Features;
using RelayCluster.Core.Wire;

namespace RelayCluster.Silo.Http;

/// <summary>
/// One answer for every request the server itself finds broken while the relay reads it: a body slower than the
/// minimum data rate (408), larger than the server's limit (413), cut short or badly framed (400). The server throws
/// <see cref="BadHttpRequestException"/> from whichever read hit it (a JSON body, a multipart upload, an admin
/// call), so one middleware around every endpoint answers it: the OpenAI envelope with the server's status,
/// logged as the client's mistake (Information, no stack trace), never the 500 of an unhandled exception.
/// </summary>
internal sealed partial class BadRequestBodies(RequestDelegate next, ILogger<BadRequestBodies> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        catch (BadHttpRequestException ex)
        {
            Log.Refused(logger, context.TraceIdentifier, ex.StatusCode, ex.Message);
            if (context.Response.HasStarted)
            {
                context.Abort(); // nothing can be said any more; the body is unusable anyway
                return;
            }

            context.Response.Clear();
            context.Response.Headers["x-request-id"] = context.TraceIdentifier;
            context.Response.Headers.Connection = "close"; // the rest of a broken body is not worth reading
            await ErrorResponses.WriteAsync(context, ErrorFor(context, ex));
        }
    }

    /// <summary>The envelope for what the server refused.</summary>
    public static RelayError ErrorFor(HttpContext context, BadHttpRequestException exception) => exception.StatusCode switch
    {
        StatusCodes.Status408RequestTimeout => new RelayError(408, new OpenAiError(
            "The request body was not received in time: it arrived slower than the server's minimum data rate.",
            "invalid_request_error", null, "request_timeout")),
        StatusCodes.Status413PayloadTooLarge => RelayError.BodyTooLarge(
            context.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize ?? 0),
        var status => new RelayError(status is >= 400 and < 500 ? status : 400, new OpenAiError(
            $"The request could not be read: {exception.Message}", "invalid_request_error", null, null), ShouldRetry: false),
    };

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Request {RequestId} refused while reading it: {Status} {Reason}")]
        public static partial void Refused(ILogger logger, string requestId, int status, string reason);
    }
}
