using System.Net.Http.Headers;
using System.Text;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Wire;

namespace RelayCluster.Silo.Http;

/// <summary>
/// Everything under <c>/admin/orleans</c> (the Orleans Dashboard, unauthenticated by itself) needs the admin key.
/// The dashboard is a browser app that cannot add our Bearer header, so HTTP Basic is accepted too, with the admin
/// key as the password (any user name): the browser asks once and sends it with every call the app makes. A cookie
/// login would need a form and CSRF protection for the same result. The gate is on the path, not on the dashboard's
/// routes, so nothing the dashboard adds under it can be reached without the key.
/// </summary>
internal sealed class AdminDashboardGate(RequestDelegate next, RelayOptions options)
{
    public const string Path = "/admin/orleans";

    public Task InvokeAsync(HttpContext context)
    {
        if (!context.Request.Path.StartsWithSegments(Path))
        {
            return next(context);
        }

        var key = TenantAuthenticationMiddleware.BearerToken(context.Request) ?? BasicPassword(context.Request);
        if (AdminKeys.Matches(options, key))
        {
            return next(context);
        }

        context.Response.Headers.WWWAuthenticate = "Basic realm=\"RelayCluster admin\", charset=\"UTF-8\"";
        return ErrorResponses.WriteAsync(context, key is null ? RelayError.MissingApiKey() : RelayError.InvalidAdminKey());
    }

    private static string? BasicPassword(HttpRequest request)
    {
        if (!AuthenticationHeaderValue.TryParse(request.Headers.Authorization.ToString(), out var header)
            || !string.Equals(header.Scheme, "Basic", StringComparison.OrdinalIgnoreCase) || header.Parameter is null)
        {
            return null;
        }

        Span<byte> buffer = stackalloc byte[512];
        if (!Convert.TryFromBase64String(header.Parameter, buffer, out var length))
        {
            return null;
        }

        var credentials = Encoding.UTF8.GetString(buffer[..length]);
        var colon = credentials.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? null : credentials[(colon + 1)..];
    }
}
