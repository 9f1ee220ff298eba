using System.Text.Json;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Api;
using RelayCluster.Upstreams;

namespace RelayCluster.Silo.Relay;

/// <summary>
/// An admitted, non-streaming call run to its answer with no HTTP response to write: a batch item or one
/// request of a synchronous batch. The answer carries the call's settlement, not yet booked, so the caller
/// books it where it belongs (a batch item in the same turn as the item's end).
/// </summary>
internal static class BufferedCall
{
    public static async Task<CallAnswer> RunAsync(ModelCall call, CancellationToken cancellationToken)
    {
        var admitted = call.Admitted;
        try
        {
            var (body, error) = await ReceiveAsync(call, cancellationToken);
            return error is null
                ? new CallAnswer(200, body, null, admitted.TakeSettlement(Endings.Completed, 200))
                : Failed(admitted, error, Endings.UpstreamError);
        }
        catch (UpstreamUnavailableException ex)
        {
            return Failed(admitted, RelayError.UpstreamUnavailable(ex.Message), Endings.UpstreamError);
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
        {
            return Failed(admitted, RelayError.UpstreamUnavailable("the upstream connection failed."), Endings.UpstreamError);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await admitted.SettleAsync(Endings.ClientDisconnected, 499);
            throw;
        }
    }

    /// <summary>
    /// Sends the call and reads its whole answer (one JSON document): the body and, for an upstream error, the relay
    /// error it maps to. A 2xx answer is recorded on the call (accepted, usage, output) before it is returned.
    /// Connection failures are thrown, for the caller to turn into its own ending.
    /// </summary>
    public static async Task<(byte[] Body, RelayError? Error)> ReceiveAsync(ModelCall call, CancellationToken cancellationToken)
    {
        await using var upstream = await call.SendAsync(cancellationToken);
        var body = await BufferedRelay.ReadAllAsync(upstream.Body, cancellationToken);
        if (!upstream.IsSuccess)
        {
            return (body, UpstreamErrors.Map(upstream.StatusCode, body, upstream.RetryAfter));
        }

        var admitted = call.Admitted;
        admitted.MarkUpstreamAccepted();
        admitted.Observe(ChunkInspector.Inspect(body));
        admitted.Capture(body);
        return (body, null);
    }

    /// <summary>The OpenAI error envelope of a relay error, as a response body.</summary>
    public static byte[] ErrorBody(RelayError error) =>
        JsonSerializer.SerializeToUtf8Bytes(new OpenAiErrorEnvelope(error.Error), SiloJsonContext.Default.OpenAiErrorEnvelope);

    private static CallAnswer Failed(AdmittedRequest admitted, RelayError error, string ending) =>
        new(error.Status, ErrorBody(error), error, admitted.TakeSettlement(ending, error.Status));
}

/// <summary>A call's status and body (the upstream's, or an OpenAI error envelope), and its settlement to book.</summary>
internal sealed record CallAnswer(int Status, byte[] Body, RelayError? Error, Settlement? Settlement)
{
    public bool IsSuccess => Status is >= 200 and < 300;
}
