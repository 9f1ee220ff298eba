using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace RelayCluster.Tests.Cli;

/// <summary>
/// Something at a URL that is not a relay, on a free loopback port: it records every request's path and query, answers
/// paths under <c>/html/</c> with a 200 HTML page (a proxy's or a web server's), and everything else with an empty JSON
/// list, so relayctl's handling of a wrong <c>--url</c> can be seen.
/// </summary>
public sealed class FakeRelay : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeRelay(WebApplication app) => _app = app;

    /// <summary>The paths (with their query) requested, in order.</summary>
    public ConcurrentQueue<string> Requested { get; } = new();

    /// <summary>The base URL, without a trailing slash.</summary>
    public string Url => _app.Urls.First().TrimEnd('/');

    public static async Task<FakeRelay> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var fake = new FakeRelay(builder.Build());
        fake._app.MapFallback((HttpContext context) =>
        {
            fake.Requested.Enqueue(context.Request.Path + context.Request.QueryString);
            return context.Request.Path.StartsWithSegments("/html")
                ? Results.Text("<!doctype html>\n<html><body>Welcome to nginx!</body></html>", "text/html")
                : Results.Text("""{"object":"list","data":[]}""", "application/json");
        });
        await fake._app.StartAsync();
        return fake;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
