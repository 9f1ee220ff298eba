using System.Runtime.CompilerServices;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Routing;
using RelayCluster.Core.Tenants;
using RelayCluster.Core.Wire;

namespace RelayCluster.Silo.Relay;

/// <summary>
/// A request the tenant grain admitted, from admission to its one settle. The relays record what they
/// see (usage reported, output produced, time to first token) and settle at their ending; the pipeline
/// settles once more in a <c>finally</c>, which is a no-op unless an ending was missed, so no path can
/// leak a concurrency slot or a reservation, and none can book twice.
/// </summary>
internal sealed class AdmittedRequest(
    string requestId, string tenantId, ITenantGrain grain, ModelRoute route, RelayRequest request, ReservationRenewer renewer, TimeProvider time,
    bool unreserved = false)
{
    private readonly long _started = time.GetTimestamp();
    private ModelRoute _route = route; // the target that answered (or was tried last): usage is billed at its price
    private int _settled;
    private bool _upstreamAccepted;
    private ReportedUsage? _usage;
    private long _contentBytes;
    private long _outputChunks;
    private double? _timeToFirstTokenMs;

    public string RequestId => requestId;

    public RelayRequest Request => request;

    /// <summary>The target that answered, or the first one until a call was made.</summary>
    public ModelRoute Target => _route;

    /// <summary>Upstream calls made so far over every target tried, retries included; 0 before any.</summary>
    public int Attempts { get; private set; }

    /// <summary>Targets given up on before <see cref="Target"/>.</summary>
    public int Fallbacks { get; private set; }

    /// <summary>Whether an upstream call was made (headers such as x-relay-provider are known).</summary>
    public bool IsRouted { get; private set; }

    /// <summary>The routed model name and its alternative, when a route chose the targets.</summary>
    public (string? Model, string? Alternative) Route { get; init; }

    /// <summary>The usage lane (<see cref="UsageLanes"/>) the record is booked and counted under: batch for <c>/v1/batches</c> items.</summary>
    public string Lane { get; init; } = UsageLanes.Interactive;

    /// <summary>The shadow copy of this call, if it was sampled; it is told the call's content and ending.</summary>
    public Routing.ShadowRun? Shadow { get; init; }

    /// <summary>Where a booked settlement is counted (requests, tokens, cost, latency); set by <see cref="ModelCalls"/>.</summary>
    public Telemetry.RelayMetrics? Metrics { get; init; }

    /// <summary>Records the target the call went to (from then on the one billed) and the attempts so far.</summary>
    public void Routed(ModelRoute target, int attempts, int fallbacks)
    {
        _route = target;
        Attempts = attempts;
        Fallbacks = fallbacks;
        IsRouted = true;
    }

    /// <summary>A body or chunk the caller received, for the shadow comparison (a no-op without a shadow).</summary>
    public void Capture(ReadOnlySpan<byte> payload) => Shadow?.Capture(payload);

    /// <summary>The usage the upstream reported, if it did.</summary>
    public ReportedUsage? Usage => _usage;

    /// <summary>How the request ended, once it was settled.</summary>
    public string? Ending { get; private set; }

    /// <summary>The upstream answered 2xx: from here on the prompt is billable whatever happens.</summary>
    public void MarkUpstreamAccepted() => _upstreamAccepted = true;

    public void Observe(in ChunkFacts facts)
    {
        if (facts.Usage is { } usage)
        {
            _usage = ReportedUsage.Merge(_usage, usage);
        }

        if (facts.CarriesOutput)
        {
            _timeToFirstTokenMs ??= time.GetElapsedTime(_started).TotalMilliseconds;
            _contentBytes += facts.ContentBytes;
            _outputChunks++;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SettleAsync(string ending, int status)
    {
        if (TakeSettlement(ending, status) is { } settlement)
        {
            await BookAsync(settlement);
        }
    }

    /// <summary>
    /// Books a settlement taken with <see cref="TakeSettlement"/> on the tenant grain, and counts it in the metrics: a
    /// settlement handed here is booked exactly once (now, or later by the renewer), so the counters move as the ledger does.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask BookAsync(Settlement settlement)
    {
        try
        {
            await grain.SettleAsync(settlement);
        }
        catch (StoreUnavailableException)
        {
            // The caller has its answer; the booking waits for the store to come back. The settle turn is
            // idempotent and books a reclaimed reservation too, so a late retry counts exactly once.
            renewer.SettleLater(grain, settlement);
        }

        Metrics?.Settled(settlement.Record, Lane); // booked, or sure to be: any other failure books nothing and counts nothing
    }

    /// <summary>
    /// Ends the request and hands its settlement to the caller to book (a batch item books it in the same turn
    /// that records the item's end). Null if it was ended already. Not counted in the metrics yet: a batch item's
    /// settlement may never be booked (its end fails to commit and the item runs again), so it is counted where it is
    /// booked (<see cref="BookAsync"/>, or the chunk grain once the end is committed).
    /// </summary>
    public Settlement? TakeSettlement(string ending, int status)
    {
        if (Interlocked.Exchange(ref _settled, 1) == 1)
        {
            return null;
        }

        Ending = ending;
        var (prompt, completion, estimated) = Tokens();
        var details = _usage ?? default;
        var target = _route;
        Shadow?.PrimaryEnded(target.Model, status, time.GetElapsedTime(_started).TotalMilliseconds);
        var record = new UsageRecord
        {
            TimestampMs = time.GetUtcNow().ToUnixTimeMilliseconds(),
            Tenant = tenantId,
            RequestId = requestId,
            Endpoint = request.Endpoint,
            Model = target.Model,
            UpstreamModel = target.UpstreamModel,
            Provider = target.ProviderId,
            Stream = request.Stream,
            PromptTokens = prompt,
            CompletionTokens = completion,
            CostNanos = target.CostNanos(prompt, completion, details.BilledCachedTokens),
            CachedTokens = details.CachedTokens,
            ReasoningTokens = details.ReasoningTokens,
            PromptAudioTokens = details.PromptAudioTokens,
            CompletionAudioTokens = details.CompletionAudioTokens,
            AcceptedPredictionTokens = details.AcceptedPredictionTokens,
            RejectedPredictionTokens = details.RejectedPredictionTokens,
            Estimated = estimated,
            Ending = ending,
            Status = status,
            LatencyMs = time.GetElapsedTime(_started).TotalMilliseconds,
            TimeToFirstTokenMs = _timeToFirstTokenMs,
            Route = Route.Model,
            RouteAlternative = Route.Alternative,
            Attempts = Attempts,
            Fallbacks = Fallbacks,
            Lane = Lane,
        };

        return new Settlement(Unreserved: unreserved, Record: record);
    }

    /// <summary>
    /// Gives the admission back unused (nothing was sent upstream): the reservation is freed and nothing is booked. A no-op
    /// if the request was settled already; if the store cannot take it now, it is released later.
    /// </summary>
    public async ValueTask ReleaseAsync()
    {
        if (Interlocked.Exchange(ref _settled, 1) == 1)
        {
            return;
        }

        try
        {
            await grain.ReleaseAsync(requestId);
        }
        catch (StoreUnavailableException)
        {
            renewer.ReleaseLater(grain, requestId);
        }
    }

    /// <summary>Keeps the reservation alive while a long request runs (a dead silo's expire instead).</summary>
    public ValueTask<bool> RenewAsync() => grain.RenewAsync(requestId);

    private (long Prompt, long Completion, bool Estimated) Tokens()
    {
        // Embeddings have no output side: a report without completion_tokens is complete for them.
        var outputMissing = _usage is { CompletionMissing: true } && request.Operation != RelayOperation.Embeddings;
        if (_usage is { PromptMissing: false } usage && !outputMissing)
        {
            return (usage.PromptTokens, usage.CompletionTokens, false);
        }

        if (!_upstreamAccepted)
        {
            return (0, 0, false); // refused or unreachable upstream: nothing was consumed
        }

        // No usage reported (a provider without it, a disconnect or failure before the usage chunk), or a report without
        // a side (no numeric prompt_tokens; neither completion_tokens nor total_tokens): bill what is missing from the
        // prompt and what was relayed, at one token a chunk or four bytes a token, whichever is more, but never more
        // output than the call could have produced: the reservation held exactly that, so an estimate cannot pass the budget.
        var prompt = _usage is { PromptMissing: false } reported ? reported.PromptTokens : request.Prompt.BestGuessTokensOn(_route.Prompt);
        var output = _usage is { } counted && !outputMissing
            ? counted.CompletionTokens
            : Math.Min(Math.Max(_outputChunks, (_contentBytes + 3) / 4), request.OutputBound(_route.DefaultMaxOutputTokens));
        return (prompt, output, true);
    }
}
