using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace RelayCluster.Tests.Infrastructure;

/// <summary>
/// A few lines of Kestrel on a free loopback port that answer <c>/v1/chat/completions</c> like OpenAI, with the
/// <c>usage</c> object a test chooses for each request body: plain, or streamed as a content chunk, a usage chunk
/// (empty <c>choices</c>) and <c>[DONE]</c>.
/// </summary>
public sealed class FakeOpenAiUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeOpenAiUpstream(WebApplication app) => _app = app;

    public string BaseUrl => _app.Urls.First() + "/v1";

    /// <summary>Bodies received, in order.</summary>
    public List<JsonObject> Requests { get; } = [];

    public static async Task<FakeOpenAiUpstream> StartAsync(Func<JsonObject, JsonObject> usageFor)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var upstream = new FakeOpenAiUpstream(app);
        app.MapPost("/v1/chat/completions", async (HttpContext context) =>
        {
            var body = (JsonObject)(await JsonNode.ParseAsync(context.Request.Body))!;
            lock (upstream.Requests)
            {
                upstream.Requests.Add(body);
            }

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
        });
        await app.StartAsync();
        return upstream;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
