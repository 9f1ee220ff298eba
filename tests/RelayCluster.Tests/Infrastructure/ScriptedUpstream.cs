using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace RelayCluster.Tests.Infrastructure;

/// <summary>
/// A fake OpenAI-compatible upstream on a free loopback port that answers every model call with exactly the bytes a
/// test gives it (status, content type, body), to drive the relay with answers no real provider is meant to send.
/// </summary>
internal sealed class ScriptedUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _calls;

    private ScriptedUpstream(WebApplication app) => _app = app;

    public string BaseUrl { get; private set; } = "";

    /// <summary>The answer to the next calls: a status, a content type and the body's exact bytes.</summary>
    public (int Status, string ContentType, byte[] Body) Answer { get; set; } = (200, "application/json", "{}"u8.ToArray());

    /// <summary>When set, answers every call in place of <see cref="Answer"/> (e.g. a body written without end).</summary>
    public Func<HttpContext, Task>? Handler { get; set; }

    /// <summary>Model calls received so far.</summary>
    public int Calls => Volatile.Read(ref _calls);

    public static async Task<ScriptedUpstream> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var upstream = new ScriptedUpstream(app);
        app.MapPost("/v1/{**operation}", async (HttpContext context) =>
        {
            Interlocked.Increment(ref upstream._calls);
            if (upstream.Handler is { } handler)
            {
                await handler(context);
                return;
            }

            var (status, contentType, body) = upstream.Answer;
            context.Response.StatusCode = status;
            context.Response.ContentType = contentType;
            await context.Response.Body.WriteAsync(body, context.RequestAborted);
        });
        await app.StartAsync();
        upstream.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/v1";
        return upstream;
    }

    public void Answers(int status, string contentType, string body) => Answer = (status, contentType, Encoding.UTF8.GetBytes(body));

    /// <summary>A 200 event stream of exactly <paramref name="body"/>.</summary>
    public void Streams(string body) => Answers(200, "text/event-stream", body);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
