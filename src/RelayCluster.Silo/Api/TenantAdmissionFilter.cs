using RelayCluster.Core.Configuration;
using RelayCluster.Core.Tenants;
using RelayCluster.Silo.Http;
using RelayCluster.Silo.Relay;

namespace RelayCluster.Silo.Api;

/// <summary>
/// Admits every call of an endpoint group (files, batches, stream tokens) through the tenant grain as a request
/// with no tokens and no cost: it counts against the tenant's RPM, takes a concurrency slot for as long as the
/// call runs (its result included, so a download holds its slot until the last byte), and is refused while an
/// administrator paused the tenant (not while its pause threshold did: these calls cost nothing), with the same 429/403
/// and x-ratelimit-* headers as a model call. The slot is released when
/// the call ends; the release frees only the slot, so the request stays counted in the RPM window.
/// </summary>
internal static class TenantAdmissionFilter
{
    /// <summary>Puts every endpoint of <paramref name="group"/> behind the tenant's admission.</summary>
    public static TBuilder RequireTenantAdmission<TBuilder>(this TBuilder group)
        where TBuilder : IEndpointConventionBuilder => group.AddEndpointFilter(AdmitAsync);

    private static async ValueTask<object?> AdmitAsync(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next)
    {
        var context = invocation.HttpContext;
        var tenant = context.Tenant();
        var grain = context.RequestServices.GetRequiredService<ITenantGrainFactory>().GetTenant(tenant.Id);
        var requestId = context.TraceIdentifier;
        Admission admission;
        try
        {
            admission = await grain.AdmitAsync(new AdmissionRequest(requestId, EstimatedTokens: 0, ReservedNanos: 0));
        }
        catch (StoreUnavailableException) when (context.RequestServices.GetRequiredService<RelayOptions>().FailOpenRateLimits)
        {
            // Fail-open, as configured for model calls: nothing here costs money, so no budget is at risk.
            return await next(invocation);
        }

        RateLimitHeaders.Write(context.Response, admission.Window);
        if (!admission.IsAdmitted)
        {
            context.RequestServices.GetRequiredService<Telemetry.RelayMetrics>()
                .Refused(tenant.Id, CallLane.Interactive.Name, Telemetry.RefusalReasons.For(admission.Outcome));
            await ErrorResponses.WriteAsync(context, Refusals.For(admission, tenant.Id, requestedTokens: 0));
            return TypedResults.Empty;
        }

        try
        {
            // The result runs here, inside the slot, rather than after the filter returns.
            var result = await next(invocation);
            if (result is IResult executable)
            {
                await executable.ExecuteAsync(context);
                return TypedResults.Empty;
            }

            return result;
        }
        finally
        {
            try
            {
                await grain.ReleaseAsync(requestId);
            }
            catch (StoreUnavailableException)
            {
                // The reservation expires at its deadline (Relay:ReservationSeconds) and frees the slot then.
            }
        }
    }
}
