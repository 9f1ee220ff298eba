using RelayCluster.Core.Auth;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Routing;
using RelayCluster.Core.Streams;
using RelayCluster.Silo.Streams;
using RelayCluster.Core.Tenants;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Http;
using RelayCluster.Upstreams;

namespace RelayCluster.Silo.Relay;

/// <summary>
/// One /v1 model call, step by step: read and validate the body, resolve the model, admit it in one
/// tenant-grain turn (refusing before any upstream call), relay it buffered or streamed, and settle it
/// exactly once whatever the ending.
/// </summary>
internal sealed partial class RelayPipeline(
    RelayOptions options, ModelRouter router, ITenantGrainFactory grains, UpstreamProviders providers, ReservationRenewer renewer,
    ConfiguredTenants configured, IStreamChannelFactory channels,
    TimeProvider time, ILogger<RelayPipeline> logger)
{
    private readonly TimeSpan _heartbeat = TimeSpan.FromSeconds(options.Requests.HeartbeatSeconds);

    public async Task HandleAsync(HttpContext context, RelayOperation operation)
    {
        var tenant = context.Tenant();

        // 1. Body and validation.
        var (body, bodyError) = await BodyReader.ReadAsync(context.Request, options.Requests.MaxBodyBytes);
        var (request, parseError) = bodyError is null ? RequestParser.Parse(operation, body.Span) : (null, bodyError);
        if (request is null)
        {
            await ErrorResponses.WriteAsync(context, parseError!);
            return;
        }

        // 2. Model resolution; a model the tenant may not use looks exactly like one that does not exist.
        var route = router.Resolve(request.Model);
        if (route is null || !tenant.AllowedModels.Allows(route.Model))
        {
            await ErrorResponses.WriteAsync(context, RelayError.ModelNotFound(request.Model));
            return;
        }

        // 3. Admission: the worst case (prompt estimate + output cap for every choice) against every window.
        var promptTokens = request.Prompt.WorstCaseTokens;
        var outputCap = operation == RelayOperation.Embeddings ? 0 : (request.MaxOutputTokens ?? route.DefaultMaxOutputTokens) * request.Choices;
        var grain = grains.GetTenant(tenant.Id);
        var unreserved = false;
        Admission admission;
        try
        {
            admission = await grain.AdmitAsync(new AdmissionRequest(context.TraceIdentifier, promptTokens + outputCap, route.CostNanos(promptTokens, outputCap)));
            RateLimitHeaders.Write(context.Response, admission.Window);
        }
        catch (StoreUnavailableException) when (options.FailOpenRateLimits && configured.HasNoBudget(tenant.Id))
        {
            // Fail-open, as configured: no window can be checked, but no money is at risk. Booked on return.
            admission = new Admission(AdmissionOutcome.Admitted, default, TimeSpan.Zero);
            unreserved = true;
            Log.ServedFailOpen(logger, context.TraceIdentifier, tenant.Id);
        }

        if (!admission.IsAdmitted)
        {
            await ErrorResponses.WriteAsync(context, Refusals.For(admission, tenant.Id, promptTokens + outputCap));
            return;
        }

        // 4. Relay, then 5. settle once, whatever the ending.
        var admitted = new AdmittedRequest(context.TraceIdentifier, tenant.Id, grain, route, request, renewer, time, unreserved);
        var provider = providers.Get(route.ProviderId);
        var upstreamRequest = new UpstreamRequest(operation, request.PrepareForUpstream(route.UpstreamModel), request.Stream);
        using var renewal = renewer.Track(admitted);
        FanOutWriter? fanOut = null;
        try
        {
            if (operation == RelayOperation.ChatCompletions && context.Request.Headers["x-relay-fanout"] == "true")
            {
                fanOut = await FanOutWriter.OpenAsync(channels, tenant.Id, logger);
                context.Response.Headers["x-relay-stream-id"] = fanOut.StreamId;
            }

            if (request.Stream)
            {
                await new StreamingRelay(context, admitted, _heartbeat, time, fanOut).RelayAsync(provider, upstreamRequest);
            }
            else
            {
                await BufferedRelay.RelayAsync(context, admitted, provider, upstreamRequest, fanOut);
            }
        }
        catch (UpstreamUnavailableException ex)
        {
            await admitted.SettleAsync(Endings.UpstreamError, 502);
            await ErrorResponses.WriteAsync(context, RelayError.UpstreamUnavailable(ex.Message));
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException && context.RequestAborted.IsCancellationRequested)
        {
            // The client left; whatever broke afterwards broke because of that.
            await admitted.SettleAsync(Endings.ClientDisconnected, 499);
        }
        catch (Exception ex) when (ex is IOException or System.Net.Http.HttpRequestException)
        {
            Log.RelayFailed(logger, context.TraceIdentifier, ex);
            await admitted.SettleAsync(Endings.UpstreamError, 502);
            if (!context.Response.HasStarted)
            {
                await ErrorResponses.WriteAsync(context, RelayError.UpstreamUnavailable("the upstream connection failed."));
            }
        }
        finally
        {
            // A no-op after any ending above; here only so that an unexpected exception cannot leak the slot.
            await admitted.SettleAsync(Endings.RelayError, 500);
            fanOut?.End(admitted.Ending ?? Endings.RelayError, admitted.Usage);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Store unavailable: {RequestId} of tenant {TenantId} served fail-open without rate limits")]
        public static partial void ServedFailOpen(ILogger logger, string requestId, string tenantId);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Relay of {RequestId} failed talking to the upstream")]
        public static partial void RelayFailed(ILogger logger, string requestId, Exception exception);
    }
}
