using RelayCluster.Core.Metering;
using RelayCluster.Silo.Http;

namespace RelayCluster.Silo.Relay;

/// <summary>
/// Non-streaming chat completions and embeddings: the upstream body is read whole (it is one JSON
/// document), its usage read, the request settled, and the body passed on byte for byte.
/// </summary>
internal static class BufferedRelay
{
    public static async Task RelayAsync(HttpContext context, ModelCall call)
    {
        var admitted = call.Admitted;
        var (body, error) = await BufferedCall.ReceiveAsync(call, context.RequestAborted);
        if (error is not null)
        {
            await admitted.SettleAsync(Endings.UpstreamError, error.Status);
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

    public static async Task<byte[]> ReadAllAsync(Stream stream, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer, cancellationToken);
        return buffer.ToArray();
    }
}
