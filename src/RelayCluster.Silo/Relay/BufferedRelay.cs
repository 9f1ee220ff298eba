using RelayCluster.Core.Configuration;
using RelayCluster.Core.Metering;
using RelayCluster.Silo.Http;

namespace RelayCluster.Silo.Relay;

/// <summary>
/// Non-streaming chat completions and embeddings: the upstream body is read whole (it is one JSON
/// document), at most <c>Relay:Requests:MaxResponseBytes</c> of it, its usage read, the request settled, and the
/// body passed on byte for byte.
/// </summary>
internal static class BufferedRelay
{
    /// <param name="maxResponseBytes"><c>Relay:Requests:MaxResponseBytes</c>.</param>
    public static async Task RelayAsync(HttpContext context, ModelCall call, long maxResponseBytes)
    {
        var admitted = call.Admitted;
        var budget = ResponseBudget.ForCall(maxResponseBytes);
        var (body, error, ending) = await BufferedCall.ReceiveAsync(call, budget, context.RequestAborted);
        if (error is not null)
        {
            await admitted.SettleAsync(ending, error.Status);
            await ErrorResponses.WriteAsync(context, error);
            return;
        }

        call.FanOut?.Observe(body);

        // The settle turn and the body go out together: the caller does not wait a store round trip for its
        // answer, and the request is not complete until both are done.
        var settling = admitted.SettleAsync(Endings.Completed, 200);
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = body.Length;
        try
        {
            await context.Response.Body.WriteAsync(body, context.RequestAborted);
        }
        finally
        {
            await settling;
        }
    }

    /// <summary>
    /// Reads a body whole where no configured budget is at hand (an error body of a stream, a shadow call's answer),
    /// up to <see cref="RequestOptions.DefaultMaxResponseBytes"/>; past it throws <see cref="ResponseTooLargeException"/>,
    /// an <see cref="IOException"/>, which those callers already treat as a failed upstream.
    /// </summary>
    public static async Task<byte[]> ReadAllAsync(Stream stream, CancellationToken cancellationToken) =>
        await BoundedRead.ReadAsync(stream, ResponseBudget.ForCall(RequestOptions.DefaultMaxResponseBytes), cancellationToken)
        ?? throw new ResponseTooLargeException(RequestOptions.DefaultMaxResponseBytes);
}

/// <summary>An upstream body passed the bytes the relay holds for one answer.</summary>
internal sealed class ResponseTooLargeException(long limit)
    : IOException($"The upstream's answer passed the relay's limit of {limit} bytes.")
{
    /// <summary>The limit passed, in bytes.</summary>
    public long Limit { get; } = limit;
}
