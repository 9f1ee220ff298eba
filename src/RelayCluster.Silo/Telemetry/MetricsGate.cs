using RelayCluster.Core.Configuration;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Http;

namespace RelayCluster.Silo.Telemetry;

/// <summary>
/// Keeps <c>/metrics</c> for admins: the admin key or the scrape token (<c>Relay:Metrics:ScrapeToken</c>) as a bearer
/// token, compared in constant time, unless <c>Relay:Metrics:AllowAnonymous</c> opens it. Otherwise a 401 in OpenAI's
/// envelope, as the admin API gives. The metrics name tenants and models, so they are not for the public by default.
/// </summary>
internal sealed class MetricsGate(RequestDelegate next, RelayOptions options, TelemetryPlan plan)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (plan.AllowAnonymous || !context.Request.Path.StartsWithSegments(TelemetryHosting.MetricsPath))
        {
            return next(context);
        }

        var key = TenantAuthenticationMiddleware.BearerToken(context.Request);
        if (AdminKeys.Matches(options, key) || AdminKeys.SameSecret(key, plan.ScrapeToken))
        {
            return next(context);
        }

        return ErrorResponses.WriteAsync(context, key is null ? RelayError.MissingApiKey() : RelayError.InvalidAdminKey());
    }
}
