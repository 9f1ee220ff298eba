using System.Runtime.CompilerServices;
using RelayCluster.Core.Wire;
using RelayCluster.Upstreams;
using RelayCluster.Upstreams.Sse;

namespace RelayCluster.Silo.Relay;

/// <summary>
/// Vets each 2xx answer of one call before it is kept (see <see cref="UpstreamRequest.Check"/>): a whole answer is
/// read (within the call's <see cref="ResponseBudget"/>) and must be the endpoint's answer; a stream's first event
/// must be a chunk. Anything else is swapped for a 502 <c>upstream_invalid_response</c> envelope, which the
/// resilience layer retries and <see cref="ModelCall"/> fails over like any other 502.
/// </summary>
internal sealed class AnswerCheck(RelayOperation operation, bool stream, ResponseBudget? budget)
{
    /// <summary>The most a stream may send before its first event: far above any chunk.</summary>
    private const int FirstEventLimit = 1024 * 1024;

    /// <summary>The kept answer's body, read whole by the check (a non-streamed call); null for a stream or past the budget.</summary>
    public byte[]? Body { get; private set; }

    /// <summary>Whether the kept answer passed the budget before it was read whole (the upstream did the work).</summary>
    public bool TooLarge { get; private set; }

    /// <summary>The last answer the check let through or made, to tell a checked answer from one that never was.</summary>
    public UpstreamResponse? Checked { get; private set; }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<UpstreamResponse> RunAsync(UpstreamResponse response, CancellationToken cancellationToken)
    {
        Body = null;
        TooLarge = false;
        Checked = stream ? await FirstEventAsync(response, cancellationToken) : await WholeAsync(response, cancellationToken);
        return Checked;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<UpstreamResponse> WholeAsync(UpstreamResponse response, CancellationToken cancellationToken)
    {
        var limit = budget ?? ResponseBudget.ForCall(Core.Configuration.RequestOptions.DefaultMaxResponseBytes);
        if (await BoundedRead.ReadAsync(response.Body, limit, cancellationToken) is not { } body)
        {
            TooLarge = true;
            return response;
        }

        if (UpstreamAnswers.ProblemWithBody(operation, body) is { } problem)
        {
            limit.Release(body.Length);
            return await FailedAsync(response, problem);
        }

        Body = body;
        return response;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<UpstreamResponse> FirstEventAsync(UpstreamResponse response, CancellationToken cancellationToken)
    {
        var (first, overflowed, body) = await SsePeek.FirstEventAsync(response.Body, FirstEventLimit, cancellationToken);
        var kept = response.WithBody(body);
        var problem = first switch
        {
            null => UpstreamAnswers.Invalid(overflowed
                ? $"its stream sent {FirstEventLimit} bytes without a complete event."
                : "its stream ended before any chunk."),
            _ when UpstreamAnswers.IsDone(first) => UpstreamAnswers.Invalid("its stream ended ([DONE]) before any chunk."),
            _ => UpstreamAnswers.ProblemWithChunk(first),
        };
        return problem is null ? kept : await FailedAsync(kept, problem);
    }

    private static async ValueTask<UpstreamResponse> FailedAsync(UpstreamResponse response, OpenAiError problem)
    {
        await response.DisposeAsync();
        return new UpstreamResponse(502, new MemoryStream(UpstreamAnswers.Envelope(problem), writable: false), null, null);
    }
}
