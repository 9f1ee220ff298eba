using System.Text;
using System.Text.Json.Nodes;
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

    /// <summary>
    /// An upstream answering <c>/v1/chat/completions</c> like OpenAI, "hi", with the <c>usage</c> object
    /// <paramref name="usageFor"/> gives for each request body: plain, or streamed as a content chunk, a usage chunk
    /// (empty <c>choices</c>) and <c>[DONE]</c>. A <c>"$first"</c> member of the usage goes on the content chunk instead,
    /// for a usage split across chunks.
    /// </summary>
    public static async Task<ScriptedUpstream> ReportingUsageAsync(Func<JsonObject, JsonObject> usageFor)
    {
        var upstream = await StartAsync();
        upstream.Handler = context => AnswerWithUsageAsync(context, usageFor);
        return upstream;
    }

    private static async Task AnswerWithUsageAsync(HttpContext context, Func<JsonObject, JsonObject> usageFor)
    {
        var body = (JsonObject)(await JsonNode.ParseAsync(context.Request.Body))!;
        var usage = usageFor(body);
        var model = (string?)body["model"];
        if ((bool?)body["stream"] == true)
        {
            context.Response.ContentType = "text/event-stream";
            var content = new JsonObject
            {
                ["id"] = "chatcmpl-fake", ["object"] = "chat.completion.chunk", ["created"] = 1, ["model"] = model,
                ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = new JsonObject { ["content"] = "hi" }, ["finish_reason"] = "stop" }),
            };

            // A usage split across chunks: "$first" goes on the content chunk, the rest on the usage chunk.
            if (usage["$first"] is JsonObject first)
            {
                usage.Remove("$first");
                content["usage"] = first.DeepClone();
            }

            var tail = new JsonObject
            {
                ["id"] = "chatcmpl-fake", ["object"] = "chat.completion.chunk", ["created"] = 1, ["model"] = model, ["choices"] = new JsonArray(),
                ["usage"] = usage,
            };
            await context.Response.WriteAsync($"data: {content.ToJsonString()}\n\ndata: {tail.ToJsonString()}\n\ndata: [DONE]\n\n", Encoding.UTF8);
            return;
        }

        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(new JsonObject
        {
            ["id"] = "chatcmpl-fake", ["object"] = "chat.completion", ["created"] = 1, ["model"] = model,
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0, ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = "hi" }, ["finish_reason"] = "stop",
            }),
            ["usage"] = usage,
        }.ToJsonString(), Encoding.UTF8);
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
