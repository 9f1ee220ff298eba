using Microsoft.AspNetCore.Http.Features;

namespace RelayCluster.Silo.Http;

/// <summary>
/// A model or route name may hold a slash (<c>org/model</c>), so a client puts it in a path segment escaped,
/// <c>org%2Fmodel</c> (<c>encodeURIComponent</c>, <c>Uri.EscapeDataString</c>: the console and relayctl). Kestrel decodes
/// every escape of a path but <c>%2F</c>, so the <c>{model}</c> route value would be <c>org%2Fmodel</c>, not a valid
/// name (404 for a route the list shows). This turns it back into a slash, after routing and before the endpoint binds
/// its parameters. Left as it is (so refused as no name): a target with an escaped <c>%</c> anywhere (<c>%252F</c>,
/// decoded once by Kestrel, must not be decoded twice), and a name that would then hold a dot segment
/// (<c>..%2F..</c>: never a route anyone meant, see <see cref="DotSegmentGuard"/>).
/// </summary>
internal sealed class EscapedSlashInModel(RequestDelegate next)
{
    public const string RouteValue = "model";

    public Task InvokeAsync(HttpContext context)
    {
        // The raw target first: most requests hold no escaped slash, and reading RouteValues makes the feature and its
        // dictionary on a request whose endpoint has no route values (every /v1 call).
        if (context.Features.Get<IHttpRequestFeature>()?.RawTarget is { } raw && raw.Contains("%2F", StringComparison.OrdinalIgnoreCase)
            && !raw.Contains("%25", StringComparison.Ordinal)
            && context.Request.RouteValues.TryGetValue(RouteValue, out var value) && value is string name
            && name.Contains("%2F", StringComparison.OrdinalIgnoreCase))
        {
            var decoded = name.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);
            if (!decoded.Split('/').Any(part => part is "." or ".."))
            {
                context.Request.RouteValues[RouteValue] = decoded;
            }
        }

        return next(context);
    }
}
