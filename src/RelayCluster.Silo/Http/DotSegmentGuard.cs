using Microsoft.AspNetCore.Http.Features;

namespace RelayCluster.Silo.Http;

/// <summary>
/// Refuses a request whose target has a dot segment (<c>.</c> or <c>..</c>, percent-encoded or not) with the
/// "Invalid URL" 404, before routing. Kestrel removes dot segments from the path it routes (RFC 3986 §5.2.4), so
/// <c>DELETE /admin/tenants/t1/keys/..</c> would otherwise reach <c>DELETE /admin/tenants/t1</c> and delete the whole
/// tenant: an id taken from a client (or an admin tool that builds URLs with <c>encodeURIComponent</c>, which leaves
/// dots alone) could become another route. No route of the relay has a dot segment, so none is ever meant.
/// </summary>
internal sealed class DotSegmentGuard(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (target is null || !HasDotSegment(target))
        {
            return next(context);
        }

        return ErrorResponses.WriteAsync(context, InvalidUrl.NotFound(context.Request));
    }

    /// <summary>True if any segment of the target's path decodes to <c>.</c> or <c>..</c>.</summary>
    internal static bool HasDotSegment(string target)
    {
        var path = target.AsSpan();
        var query = path.IndexOfAny('?', '#');
        if (query >= 0)
        {
            path = path[..query];
        }

        foreach (var range in path.Split('/'))
        {
            var segment = path[range];
            if (segment.Length is > 0 and <= 6 && segment.ContainsAny('.', '%') && Uri.UnescapeDataString(segment.ToString()) is "." or "..")
            {
                return true;
            }
        }

        return false;
    }
}
