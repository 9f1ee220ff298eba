namespace RelayCluster.Silo.Console;

/// <summary>
/// The admin console: <c>GET /admin/</c> (the page) and <c>GET /admin/console/{file}</c> (its script, style and the
/// vendored SignalR client), served from embedded resources so every silo serves it wherever it runs, with no
/// static-files setup and nothing fetched from elsewhere. These two routes are public: they hold no data. Every
/// data call the page makes goes to the /admin API with the admin key the admin typed (or, for the admin hub, a
/// short-lived admin token), so those paths keep their own check (see <c>AdminApi</c>).
/// </summary>
/// <remarks>
/// The page holds the admin key in memory and sessionStorage, so it is locked down like the demo page: a
/// Content-Security-Policy that allows only this origin's scripts, styles and connections (no inline code, no third
/// party), no framing, no MIME sniffing, no referrer, and no caching of the page by shared caches.
/// </remarks>
public static class ConsoleApi
{
    /// <summary>The console's Content-Security-Policy (the same as the demo page's).</summary>
    public const string ContentSecurityPolicy = Api.DemoApi.ContentSecurityPolicy;

    /// <summary>Where the assets are served; the page refers to them by these absolute paths.</summary>
    public const string AssetPath = "/admin/console";

    private const string ResourcePrefix = "console/";

    // The assets and their content types; a name not listed here is a 404 (no directory walk, no guessing).
    private static readonly Dictionary<string, (string Resource, string ContentType)> Assets = new(StringComparer.Ordinal)
    {
        ["app.js"] = ("console/app.js", Js),
        ["core.js"] = ("console/core.js", Js),
        ["live.js"] = ("console/live.js", Js),
        ["tenants.js"] = ("console/tenants.js", Js),
        ["tenant.js"] = ("console/tenant.js", Js),
        ["ops.js"] = ("console/ops.js", Js),
        ["console.css"] = ("console/console.css", "text/css; charset=utf-8"),
        // The demo page's copy of the @microsoft/signalr browser bundle (MIT): one vendored file for both pages.
        ["signalr.min.js"] = ("demo/signalr.min.js", Js),
    };

    private const string Js = "text/javascript; charset=utf-8";

    public static IEndpointRouteBuilder MapConsoleApi(this IEndpointRouteBuilder app)
    {
        // "/admin/" also matches "/admin": route templates ignore a trailing slash, and the page links by absolute paths.
        app.MapGet("/admin/", (HttpContext context) => Serve(context, ResourcePrefix + "index.html", "text/html; charset=utf-8"));
        app.MapGet(AssetPath + "/{file}", (string file, HttpContext context) =>
            Assets.TryGetValue(file, out var asset) ? Serve(context, asset.Resource, asset.ContentType) : Results.NotFound());
        return app;
    }

    private static IResult Serve(HttpContext context, string resource, string contentType)
    {
        if (typeof(ConsoleApi).Assembly.GetManifestResourceStream(resource) is not { } stream)
        {
            return Results.NotFound();
        }

        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XFrameOptions = "DENY";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        // Revalidated on every load, so a silo upgrade is seen at once; small files, served locally.
        headers.CacheControl = "no-cache";
        return Results.Stream(stream, contentType);
    }
}
