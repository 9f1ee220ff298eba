namespace RelayCluster.Silo.Api;

/// <summary>
/// <c>/demo/stream.html</c>: one completion shown over SSE and over SignalR side by side. Served from embedded
/// resources, so it works wherever the silo runs, with no build step and no static-files setup.
/// </summary>
public static class DemoApi
{
    private static readonly Dictionary<string, string> Files = new(StringComparer.Ordinal)
    {
        ["stream.html"] = "text/html; charset=utf-8",
        // The @microsoft/signalr browser bundle (MIT), unmodified, as the npm package ships it.
        ["signalr.min.js"] = "text/javascript; charset=utf-8",
    };

    public static IEndpointRouteBuilder MapDemoApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/demo/{file}", (string file) =>
            Files.TryGetValue(file, out var contentType) && typeof(DemoApi).Assembly.GetManifestResourceStream("demo/" + file) is { } stream
                ? Results.Stream(stream, contentType)
                : Results.NotFound());
        return app;
    }
}
