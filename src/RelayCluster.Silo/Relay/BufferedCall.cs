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
    /// <summary>
    /// Runs the call to its answer, reading no more of it than <paramref name="budget"/> allows; an answer past it
    /// ends as 502 (see <see cref="ResponseBudget"/>), billed as an upstream failure after a 2xx.
    /// </summary>
    public static async Task<CallAnswer> RunAsync(ModelCall call, ResponseBudget budget, CancellationToken cancellationToken)
    {
        var admitted = call.Admitted;
        try
        {
            var received = await ReceiveAsync(call, budget, cancellationToken);
            return received.Error is null
                ? new CallAnswer(200, received.Body, null, admitted.TakeSettlement(Endings.Completed, 200))
                : Failed(admitted, received.Error, received.Ending);
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
    /// Sends the call and reads its whole answer (one JSON document, vetted as the endpoint's answer, see
    /// <see cref="AnswerCheck"/>), at most what <paramref name="budget"/> allows:
    /// the body and, for an upstream error, the relay error it maps to and the ending to settle it with. A 2xx answer
    /// is recorded on the call (accepted, usage, output) before it is returned. A 2xx answer past the budget is not
    /// read further: the upstream did the work, so it is settled as <c>upstream_error_mid_stream</c> (the prompt
    /// billed, estimated; no output was relayed). Connection failures are thrown, for the caller's own ending.
    /// </summary>
    public static async Task<Received> ReceiveAsync(ModelCall call, ResponseBudget budget, CancellationToken cancellationToken)
    {
        await using var upstream = await call.SendAsync(cancellationToken, budget);
        if (!upstream.IsSuccess)
        {
            // An error body is only read for its message: one past the budget maps as if it had none.
            var errorBody = await BoundedRead.ReadAsync(upstream.Body, budget, cancellationToken) ?? [];
            budget.Release(errorBody.Length); // only its message is kept, in the relay's own envelope
            return new Received(errorBody, UpstreamErrors.Map(upstream.StatusCode, errorBody, upstream.RetryAfter), Endings.UpstreamError);
        }

        var admitted = call.Admitted;
        admitted.MarkUpstreamAccepted();
        if (call.Answer.Body is not { } body)
        {
            return new Received([], budget.TooLarge, Endings.UpstreamErrorMidStream);
        }

        admitted.Observe(ChunkInspector.Inspect(body));
        admitted.Capture(body);
        return new Received(body, null, Endings.Completed);
    }

    /// <summary>The OpenAI error envelope of a relay error, as a response body.</summary>
    public static byte[] ErrorBody(RelayError error) =>
        JsonSerializer.SerializeToUtf8Bytes(new OpenAiErrorEnvelope(error.Error), SiloJsonContext.Default.OpenAiErrorEnvelope);

    private static CallAnswer Failed(AdmittedRequest admitted, RelayError error, string ending) =>
        new(error.Status, ErrorBody(error), error, admitted.TakeSettlement(ending, error.Status));
}

/// <summary>An upstream answer read whole: its body, the relay error it maps to (null for a 2xx), and the ending it settles with.</summary>
internal sealed record Received(byte[] Body, RelayError? Error, string Ending);

/// <summary>A call's status and body (the upstream's, or an OpenAI error envelope), and its settlement to book.</summary>
internal sealed record CallAnswer(int Status, byte[] Body, RelayError? Error, Settlement? Settlement)
{
    public bool IsSuccess => Status is >= 200 and < 300;
}
