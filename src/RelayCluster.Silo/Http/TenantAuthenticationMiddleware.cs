using RelayCluster.Core.Auth;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Tenants;
using RelayCluster.Core.Wire;

namespace RelayCluster.Silo.Http;

/// <summary>
/// Authenticates every /v1 request by its bearer key and attaches the tenant; the completions hub too
/// (negotiate and connect). Keys are taken from the Authorization header only, never from the URL: URLs end up in
/// logs, proxies and browser histories. The completions hub is for server-side clients (the .NET and Node SignalR
/// clients send the header); browsers, whose WebSockets cannot, subscribe with scoped tokens on /hubs/streams. Once a tenant is known,
/// every response it gets carries the x-ratelimit-* headers: handlers that admitted the request set
/// them from the admission; any other response reads the tenant's windows just before it starts.
/// </summary>
internal sealed class TenantAuthenticationMiddleware(RequestDelegate next, TenantCache tenants, ITenantGrainFactory grains, RelayOptions options)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var isHub = context.Request.Path.StartsWithSegments("/hubs/completions");
        if (!isHub && !context.Request.Path.StartsWithSegments("/v1"))
        {
            await next(context);
            return;
        }

        var key = BearerToken(context.Request);
        if (key is null)
        {
            RequestBodyLimits.CloseIfBodyUnread(context);
            await ErrorResponses.WriteAsync(context, context.Request.Query.ContainsKey("access_token") ? KeyInUrl() : RelayError.MissingApiKey());
            return;
        }

        var tenant = await tenants.FindByKeyAsync(key);
        if (tenant is null)
        {
            RequestBodyLimits.CloseIfBodyUnread(context);
            await ErrorResponses.WriteAsync(context, RelayError.InvalidApiKey(ApiKeyHash.Redact(key)));
            return;
        }

        context.Features.Set(tenant);
        RequestBodyLimits.RaiseForUpload(context, options);
        if (isHub)
        {
            await next(context);
            return;
        }

        // One state object and a static callback (no closure and delegate per request); usually the headers are written.
        context.Response.OnStarting(static state =>
        {
            var (context, tenant, grains) = ((HttpContext, Tenant, ITenantGrainFactory))state;
            return RateLimitHeaders.AreWritten(context.Response) ? Task.CompletedTask : WriteQuotaHeadersAsync(context.Response, tenant, grains);
        }, (context, tenant, grains));
        await next(context);
    }

    /// <summary>The tenant's x-ratelimit-* headers, read from its grain, for a response its handler did not give them.</summary>
    private static async Task WriteQuotaHeadersAsync(HttpResponse response, Tenant tenant, ITenantGrainFactory grains)
    {
        try
        {
            var quota = await grains.GetTenant(tenant.Id).GetQuotaAsync();
            RateLimitHeaders.Write(response, quota.Window);
        }
        catch (StoreUnavailableException)
        {
            // The response (most likely the 503 saying so) goes out without the headers.
        }
    }

    public static string? BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        const string prefix = "Bearer ";
        return header.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && header.Length > prefix.Length
            ? header[prefix.Length..].Trim()
            : null;
    }

    private static RelayError KeyInUrl() => new(401, new OpenAiError(
        "API keys are not accepted in the URL (access_token). Send the key in the Authorization header (Authorization: Bearer YOUR_KEY); "
        + "browsers subscribe to streams with a subscribe token on /hubs/streams instead.", "invalid_request_error", null, "invalid_api_key"), ShouldRetry: false);
}

internal static class TenantContext
{
    public static Tenant Tenant(this HttpContext context) =>
        context.Features.Get<Tenant>() ?? throw new InvalidOperationException("No tenant: the request did not pass authentication.");
}
