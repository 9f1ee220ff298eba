namespace RelayCluster.Silo.Api;

/// <summary>
/// <c>/demo/stream.html</c>: one completion shown over SSE and over SignalR side by side. Served from embedded
/// resources, so it works wherever the silo runs, with no build step and no static-files setup. The page holds a
/// tenant key the user types in, so it is locked down: a Content-Security-Policy that allows only this origin's
/// scripts, styles and connections (no inline code, no third party), no framing, no MIME sniffing, no referrer.
/// </summary>
public static class DemoApi
{
    /// <summary>The demo responses' Content-Security-Policy.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private static readonly Dictionary<string, string> Files = new(StringComparer.Ordinal)
    {
        ["stream.html"] = "text/html; charset=utf-8",
        ["stream.js"] = "text/javascript; charset=utf-8",
        ["stream.css"] = "text/css; charset=utf-8",
        // The @microsoft/signalr browser bundle (MIT), unmodified, as the npm package ships it.
        ["signalr.min.js"] = "text/javascript; charset=utf-8",
    };

    public static IEndpointRouteBuilder MapDemoApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/demo/{file}", (string file, HttpContext context) =>
        {
            var headers = context.Response.Headers;
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
            headers.XFrameOptions = "DENY";
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "no-referrer";
            return Files.TryGetValue(file, out var contentType) && typeof(DemoApi).Assembly.GetManifestResourceStream("demo/" + file) is { } stream
                ? Results.Stream(stream, contentType)
                : Results.NotFound();
        });
        return app;
    }
}
