using RelayCluster.Core.Auth;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Routing;
using RelayCluster.Core.Tenants;
using RelayCluster.Core.Wire;
using RelayCluster.Upstreams;

namespace RelayCluster.Silo.Relay;

/// <summary>
/// The steps every model call shares, whatever carries it (HTTP, the completions hub, a batch worker):
/// validate the body, resolve the model, and admit the call in one tenant-grain turn, refusing before any
/// upstream call. What comes back is either a refusal or an admitted call that must be settled.
/// </summary>
internal sealed partial class ModelCalls(
    RelayOptions options, ModelRouter router, ITenantGrainFactory grains, UpstreamProviders providers, ReservationRenewer renewer,
    ConfiguredTenants configured, TimeProvider time, ILogger<ModelCalls> logger)
{
    public async ValueTask<CallStart> StartAsync(Tenant tenant, RelayOperation operation, ReadOnlyMemory<byte> body, string requestId, CallLane lane)
    {
        // 1. Validation.
        var (request, parseError) = RequestParser.Parse(operation, body.Span);
        if (request is null)
        {
            return CallStart.Refused(parseError!);
        }

        // 2. Model resolution; a model the tenant may not use looks exactly like one that does not exist.
        var resolved = router.Resolve(request.Model);
        if (resolved is null || !tenant.AllowedModels.Allows(resolved.Model))
        {
            return CallStart.Refused(RelayError.ModelNotFound(request.Model));
        }

        var route = lane.Price(resolved);

        // 3. Admission: the worst case (prompt estimate + output cap for every choice) against every window.
        var promptTokens = request.Prompt.WorstCaseTokens;
        var outputCap = operation == RelayOperation.Embeddings ? 0 : (request.MaxOutputTokens ?? route.DefaultMaxOutputTokens) * request.Choices;
        var grain = grains.GetTenant(tenant.Id);
        var unreserved = false;
        Admission admission;
        try
        {
            admission = await grain.AdmitAsync(new AdmissionRequest(
                requestId, promptTokens + outputCap, route.CostNanos(promptTokens, outputCap), lane.CapacityShare));
        }
        catch (StoreUnavailableException) when (options.FailOpenRateLimits && configured.HasNoBudget(tenant.Id))
        {
            // Fail-open, as configured: no window can be checked, but no money is at risk. Booked on return.
            admission = new Admission(AdmissionOutcome.Admitted, default, TimeSpan.Zero);
            unreserved = true;
            Log.ServedFailOpen(logger, requestId, tenant.Id);
        }

        if (!admission.IsAdmitted)
        {
            return CallStart.Refused(Refusals.For(admission, tenant.Id, promptTokens + outputCap), admission);
        }

        var admitted = new AdmittedRequest(requestId, tenant.Id, grain, route, request, renewer, time, unreserved);
        var upstream = new UpstreamRequest(operation, request.PrepareForUpstream(route.UpstreamModel), request.Stream);
        return new CallStart(new ModelCall(admitted, providers.Get(route.ProviderId), upstream, renewer), null, admission);
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

/// <summary>An admitted call with its provider and upstream request; its reservation is renewed until disposed.</summary>
internal sealed class ModelCall(AdmittedRequest admitted, IUpstreamProvider provider, UpstreamRequest upstream, ReservationRenewer renewer) : IDisposable
{
    private readonly IDisposable _renewal = renewer.Track(admitted);

    public AdmittedRequest Admitted => admitted;

    public IUpstreamProvider Provider => provider;

    public UpstreamRequest Upstream => upstream;

    /// <summary>The call's SignalR fan-out, when the caller asked for one.</summary>
    public Silo.Streams.FanOutWriter? FanOut { get; set; }

    public void Dispose() => _renewal.Dispose();
}

/// <summary>
/// Which kind of traffic a call is. Interactive calls may use a tenant's whole capacity; batch calls use only
/// a share of it (interactive traffic comes first) and are billed at the batch price.
/// </summary>
internal sealed record CallLane(string Name, decimal PriceFactor, double CapacityShare)
{
    public static readonly CallLane Interactive = new("interactive", 1m, 1.0);

    public ModelRoute Price(ModelRoute route) => PriceFactor == 1m
        ? route
        : route with { InputPerMTok = route.InputPerMTok * PriceFactor, OutputPerMTok = route.OutputPerMTok * PriceFactor };
}
