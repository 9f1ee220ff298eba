using System.Diagnostics;
using System.Runtime.CompilerServices;
using RelayCluster.Core.Auth;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Routing;
using RelayCluster.Core.Tenants;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Routing;
using RelayCluster.Upstreams;
using RelayCluster.Upstreams.Resilience;

namespace RelayCluster.Silo.Relay;

/// <summary>
/// The steps every model call shares, whatever carries it (HTTP, the completions hub, a batch worker):
/// validate the body, resolve the model, and admit the call in one tenant-grain turn, refusing before any
/// upstream call. What comes back is either a refusal or an admitted call that must be settled.
/// </summary>
internal sealed partial class ModelCalls(
    RelayOptions options, ModelRouter router, RouteTable routes, ShadowTraffic shadows, ITenantGrainFactory grains, UpstreamProviders providers,
    ReservationRenewer renewer, ConfiguredTenants configured, TimeProvider time, Telemetry.RelayMetrics metrics, RouteTargetStats targetStats,
    ILogger<ModelCalls> logger)
{
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<CallStart> StartAsync(Tenant tenant, RelayOperation operation, ReadOnlyMemory<byte> body, string requestId, CallLane lane)
    {
        // 0. A large body of a tenant that would be refused anyway is refused before it is parsed.
        if (await PrecheckAsync(tenant, body.Length, lane) is { } early)
        {
            return early;
        }

        // 1. Validation.
        var (request, parseError) = RequestParser.Parse(operation, body.Span);
        if (request is null)
        {
            return CallStart.Refused(parseError!);
        }

        request.CallerBody = body; // every caller hands over a fresh array, so it can go upstream as it is

        // 2. Model resolution (see CallableModels), then the endpoint: a model serves chat or embeddings, not both.
        if (CallableModels.Resolve(router, routes, tenant, request.Model) is not { } callable)
        {
            return CallStart.Refused(RelayError.ModelNotFound(request.Model));
        }

        if (callable.Endpoint != ModelEndpoints.For(operation))
        {
            return CallStart.Refused(ModelEndpoints.Refusal(operation, request.Model));
        }

        var (route, resolved) = (callable.Route, callable.Resolved);
        var plan = route?.Plan(request.Stream, lane.Name == CallLane.BatchName, requestId) ?? RoutePlan.Single(resolved!);
        var targets = new ModelRoute[plan.Targets.Count]; // a loop, not LINQ: this runs for every call
        for (var i = 0; i < targets.Length; i++)
        {
            targets[i] = lane.Price(plan.Targets[i]);
        }

        if (OutputCapRefusal(request, targets) is { } tooLarge)
        {
            return CallStart.Refused(tooLarge);
        }

        // 3. Admission: the worst case (prompt estimate + output cap for every choice) against every window, at the
        // dearest target the call may end up on, so a fallback to a pricier model cannot overrun a budget. The cap is
        // within the model's limit by now; the sums saturate anyway, and the grain refuses anything out of range.
        // The prompt is counted with each target's tokenizer (once per encoding) and bounded with its media worst cases.
        long PromptBound(ModelRoute t) => request.Prompt.WorstCaseTokensOn(t.Prompt);
        long OutputCap(ModelRoute t) =>
            Saturating.Add(request.OutputBound(t.DefaultMaxOutputTokens), request.Prompt.Content?.PredictionTokens(t.Prompt.Tokenizer) ?? 0);
        if (targets.Length == 0)
        {
            throw new InvalidOperationException("A route plan without targets."); // as the LINQ Max that was here threw
        }

        long worstTokens = long.MinValue, worstCost = long.MinValue;
        foreach (var target in targets)
        {
            var (prompt, output) = (PromptBound(target), OutputCap(target));
            worstTokens = Math.Max(worstTokens, Saturating.Add(prompt, output));
            worstCost = Math.Max(worstCost, target.CostNanos(prompt, output));
        }

        var grain = grains.GetTenant(tenant.Id);
        var unreserved = false;
        Admission admission;
        try
        {
            admission = await grain.AdmitAsync(new AdmissionRequest(requestId, worstTokens, worstCost, lane.CapacityShare));
        }
        catch (StoreUnavailableException) when (options.FailOpenRateLimits && configured.HasNoBudget(tenant.Id))
        {
            // Fail-open, as configured: no window can be checked, but no money is at risk. Booked on return.
            admission = new Admission(AdmissionOutcome.Admitted, default, TimeSpan.Zero);
            unreserved = true;
            Log.ServedFailOpen(logger, requestId, tenant.Id);
        }
        catch (StoreUnavailableException)
        {
            renewer.ReleaseLater(grain, requestId);
            throw;
        }

        if (!admission.IsAdmitted)
        {
            metrics.Refused(tenant.Id, lane.Name, Telemetry.RefusalReasons.For(admission.Outcome));
            return CallStart.Refused(Refusals.For(admission, tenant.Id, worstTokens), admission);
        }

        // The shadow copy is cloned before the primary's body is rewritten, and runs on its own from here on.
        var shadow = plan.Shadow is { } shadowTarget && plan.RouteModel is { } routeModel
            ? shadows.TryStart(routeModel, shadowTarget, operation, request, requestId)
            : null;
        var admitted = new AdmittedRequest(requestId, tenant.Id, grain, targets[0], request, renewer, time, unreserved)
        {
            Route = (plan.RouteModel, plan.Alternative),
            Shadow = shadow,
            Lane = lane.Name == CallLane.BatchName ? UsageLanes.Batch : UsageLanes.Interactive,
            Metrics = metrics,
        };
        return new CallStart(new ModelCall(admitted, operation, targets, providers, renewer, logger, metrics)
        {
            TargetStats = plan.RouteModel is null ? null : targetStats,
        }, null, admission);
    }

    /// <summary>
    /// For a body of <paramref name="bodyBytes"/> or more than <see cref="AdmissionPrecheck.MinBodyBytes"/>: the refusal
    /// the tenant would get anyway (paused, slots, request window or budget full), before the body is parsed. Null
    /// when the body is small or the tenant may go on; the real admission still follows the parse.
    /// </summary>
    public async ValueTask<CallStart?> PrecheckAsync(Tenant tenant, int bodyBytes, CallLane lane)
    {
        if (bodyBytes < AdmissionPrecheck.MinBodyBytes
            || await AdmissionPrecheck.RefusalAsync(grains.GetTenant(tenant.Id), lane.CapacityShare) is not { } refusal)
        {
            return null;
        }

        metrics.Refused(tenant.Id, lane.Name, Telemetry.RefusalReasons.For(refusal.Outcome));
        return CallStart.Refused(Refusals.For(refusal, tenant.Id, 0), refusal);
    }

    /// <summary>
    /// The 400 OpenAI gives for a cap above the model's output limit, naming the parameter the caller used. With
    /// several targets (a route's fallbacks) the smallest limit counts: every target may be sent this cap.
    /// </summary>
    private static RelayError? OutputCapRefusal(RelayRequest request, IReadOnlyList<ModelRoute> targets)
    {
        if (request.Operation != RelayOperation.ChatCompletions || request.OutputCaps.Count == 0)
        {
            return null;
        }

        var limit = targets.Min(t => t.MaxOutputTokens);
        foreach (var (param, cap) in request.OutputCaps)
        {
            if (cap > limit)
            {
                return RelayError.BadRequest(
                    $"{param} is too large: {cap}. This model supports at most {limit} completion tokens, whereas you provided {cap}.",
                    param, "invalid_value");
            }
        }

        return null;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Store unavailable: {RequestId} of tenant {TenantId} served fail-open without rate limits")]
        public static partial void ServedFailOpen(ILogger logger, string requestId, string tenantId);
    }
}

/// <summary>A refusal (with the admission that refused it, if it got that far) or an admitted call.</summary>
internal sealed record CallStart(ModelCall? Call, RelayError? Refusal, Admission? Admission)
{
    public static CallStart Refused(RelayError error, Admission? admission = null) => new(null, error, admission);
}

/// <summary>
/// An admitted call and the targets it may use; its reservation is renewed until disposed.
/// <see cref="SendAsync"/> walks the targets as a fallback chain: a target that fails before answering
/// (unreachable, timed out, an open breaker, or a failover status such as 429/5xx after its own retries) is
/// given up for the next one. It returns the first answer it keeps, before any byte reaches the caller
/// (a streaming relay may have sent heartbeat comments meanwhile: they carry no content), so a fallback
/// never repeats or mixes output.
/// </summary>
internal sealed class ModelCall(
    AdmittedRequest admitted, RelayOperation operation, IReadOnlyList<ModelRoute> targets, UpstreamProviders providers, ReservationRenewer renewer,
    ILogger logger, Telemetry.RelayMetrics? metrics = null) : IDisposable
{
    private readonly IDisposable _renewal = renewer.Track(admitted);

    public AdmittedRequest Admitted => admitted;

    public bool Stream => admitted.Request.Stream;

    /// <summary>The targets in the order they are tried; the first is the route's choice for this call.</summary>
    public IReadOnlyList<ModelRoute> Targets => targets;

    /// <summary>Where each try of a routed call's targets is counted (null for a model without a route).</summary>
    public RouteTargetStats? TargetStats { get; init; }

    /// <summary>The call's SignalR fan-out, when the caller asked for one.</summary>
    public Silo.Streams.FanOutWriter? FanOut { get; set; }

    /// <summary>The vetting of the last <see cref="SendAsync"/>: for a non-streamed call, the kept answer's body.</summary>
    public AnswerCheck Answer { get; private set; } = null!;

    /// <summary>
    /// Calls the targets in order until one answers with something to keep: a success, a status that would
    /// fail anywhere (a 400, unless the provider refused what only it cannot express), or whatever the last target
    /// says. The last target's failure is thrown.
    /// </summary>
    /// <remarks>
    /// Every 2xx is vetted first (<see cref="AnswerCheck"/>): one that is not the endpoint's answer counts as a 502
    /// and is retried and failed over as one. A non-streamed answer is read whole by then, within
    /// <paramref name="budget"/>, and is in <see cref="Answer"/>.
    /// </remarks>
    public async ValueTask<UpstreamResponse> SendAsync(CancellationToken cancellationToken, ResponseBudget? budget = null)
    {
        var check = Answer = new AnswerCheck(operation, admitted.Request.Stream, budget);
        var attempts = 0;
        for (var i = 0; ; i++)
        {
            var target = targets[i];
            var isLast = i == targets.Count - 1;
            var request = new UpstreamRequest(operation, admitted.Request.PrepareForUpstream(target.UpstreamModel), admitted.Request.Stream)
            {
                OutputCap = operation == RelayOperation.Embeddings ? null : admitted.Request.MaxOutputTokens ?? target.DefaultMaxOutputTokens,
                CallerBody = admitted.Request.CallerBody,
                Check = check.RunAsync,
            };
            UpstreamResponse response;
            var started = TargetStats is null ? 0 : Stopwatch.GetTimestamp();
            try
            {
                response = await providers.Get(target.ProviderId).SendAsync(request, cancellationToken);
            }
            catch (UpstreamUnavailableException ex) when (!cancellationToken.IsCancellationRequested)
            {
                // An open breaker made no call (Attempts 0): the next target is tried at once.
                RecordTry(target, error: true, latencyMs: null);
                attempts += ex.Attempts;
                admitted.Routed(target, attempts, i);
                if (isLast)
                {
                    throw;
                }

                ModelCallsLog.FailedOver(logger, admitted.RequestId, target.Model, ex.Message);
                metrics?.FellBack(target.Model, target.ProviderId);
                continue;
            }

            if (response.IsSuccess && !ReferenceEquals(check.Checked, response))
            {
                response = await check.RunAsync(response, cancellationToken); // a provider without the resilience layer
            }

            if (TargetStats is not null)
            {
                RecordTry(target, !response.IsSuccess && UpstreamFailure.IsFailover(response.StatusCode), Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }

            attempts += response.Attempts;
            admitted.Routed(target, attempts, i);
            if (response.IsSuccess || isLast || (!UpstreamFailure.IsFailover(response.StatusCode) && !response.RefusedByProvider))
            {
                return response;
            }

            ModelCallsLog.FailedOver(logger, admitted.RequestId, target.Model, $"status {response.StatusCode}");
            metrics?.FellBack(target.Model, target.ProviderId);
            await response.DisposeAsync();
        }
    }

    public void Dispose() => _renewal.Dispose();

    private void RecordTry(ModelRoute target, bool error, double? latencyMs)
    {
        if (TargetStats is not null && admitted.Route is ({ } route, { } alternative))
        {
            TargetStats.Record(route, alternative, target, error, latencyMs);
        }
    }
}

/// <summary>
/// Which kind of traffic a call is. Interactive calls may use a tenant's whole capacity; batch calls use only
/// a share of it (interactive traffic comes first) and are billed at the batch price.
/// </summary>
internal sealed record CallLane(string Name, decimal PriceFactor, double CapacityShare)
{
    /// <summary>The lane name batch workers use; a route's <c>batch</c> list serves it.</summary>
    public const string BatchName = "batch";

    public static readonly CallLane Interactive = new("interactive", 1m, 1.0);

    public ModelRoute Price(ModelRoute route) => PriceFactor == 1m
        ? route
        : route with
        {
            InputPerMTok = route.InputPerMTok * PriceFactor, OutputPerMTok = route.OutputPerMTok * PriceFactor,
            CachedInputPerMTok = route.CachedInputPerMTok * PriceFactor,
        };
}

internal static partial class ModelCallsLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "{RequestId}: target {Model} failed before its first byte ({Reason}); trying the next")]
    public static partial void FailedOver(ILogger logger, string requestId, string model, string reason);
}
