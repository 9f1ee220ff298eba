using System.Text.Json;
using System.Text.Json.Nodes;
using RelayCluster.Core.Configuration;
using RelayCluster.MockUpstream.Anthropic;
using RelayCluster.Upstreams.Simulator;

namespace RelayCluster.MockUpstream;

/// <summary>
/// The simulator as a standalone OpenAI-compatible HTTP server: the upstream of the <c>openai</c>
/// provider in tests, benchmarks and demos. Behaviour comes from the command line (defaults) and from
/// <c>[[sim …]]</c> directives in each prompt.
/// </summary>
public static class MockUpstreamApp
{
    private static readonly Dictionary<string, string> Switches = new(StringComparer.Ordinal)
    {
        ["--port"] = "Port",
        ["--api-key"] = "ApiKey",
        ["--ttft-ms"] = "Simulator:TimeToFirstTokenMs",
        ["--interval-ms"] = "Simulator:TokenIntervalMs",
        ["--tokens"] = "Simulator:OutputTokens",
        ["--embedding-dims"] = "Simulator:EmbeddingDimensions",
        ["--fail-status"] = "FailStatus",
    };

    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        builder.Configuration.AddCommandLine(args, Switches);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var port = builder.Configuration.GetValue("Port", 9000);
        if (builder.Configuration["urls"] is null)
        {
            builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        }

        var simulator = builder.Configuration.GetSection("Simulator").Get<SimulatorOptions>() ?? new SimulatorOptions();
        var apiKey = builder.Configuration["ApiKey"];
        var engine = new SimulatorEngine(simulator, TimeProvider.System);

        var app = builder.Build();
        var faults = new MockFaults { FailStatus = builder.Configuration.GetValue<int?>("FailStatus") };
        app.MapMockFaults(faults);
        app.UseAnthropicMessages(engine, apiKey, faults);
        if (!string.IsNullOrEmpty(apiKey))
        {
            app.Use(async (context, next) =>
            {
                if (context.Request.Headers.Authorization != $"Bearer {apiKey}")
                {
                    context.Response.StatusCode = 401;
                    await context.Response.WriteAsync("""{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}""");
                    return;
                }

                await next(context);
            });
        }

        app.MapPost("/v1/chat/completions", (HttpContext context) => faults.Serve(context) ?? ServeAsync(context, engine, chat: true));
        app.MapPost("/v1/embeddings", (HttpContext context) => faults.Serve(context) ?? ServeAsync(context, engine, chat: false));
        app.MapGet("/v1/models", () => Results.Json(new JsonObject
        {
            ["object"] = "list",
            ["data"] = new JsonArray(new JsonObject { ["id"] = "mock-fast", ["object"] = "model", ["created"] = 1_700_000_000, ["owned_by"] = "mock" }),
        }));
        return app;
    }

    private static async Task ServeAsync(HttpContext context, SimulatorEngine engine, bool chat)
    {
        JsonObject body;
        try
        {
            body = await JsonSerializer.DeserializeAsync<JsonObject>(context.Request.Body, cancellationToken: context.RequestAborted)
                ?? throw new JsonException("empty body");
        }
        catch (JsonException)
        {
            await WriteJsonAsync(context, 400, SimulatorEngine.ErrorBody(400));
            return;
        }

        if (chat && SimulatorEngine.RefusalBody(body) is { } refusal)
        {
            await WriteJsonAsync(context, 400, refusal);
            return;
        }

        var script = engine.ScriptFor(body);
        if (script.ErrorStatus is { } status)
        {
            if (script.RetryAfterSeconds is { } seconds)
            {
                context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            await WriteJsonAsync(context, status, SimulatorEngine.ErrorBody(status));
            return;
        }

        var stream = body["stream"] is JsonValue s && s.TryGetValue<bool>(out var isStream) && isStream;
        if (!chat || !stream)
        {
            await engine.DelayAsync(script.TimeToFirstTokenMs + (chat ? script.TokenIntervalMs * Math.Max(0, script.OutputTokens - 1) : 0), context.RequestAborted);
            if (chat)
            {
                // Written choice by choice, never whole: n=128 with logprobs is hundreds of MB.
                context.Response.ContentType = "application/json";
                await engine.WriteChatCompletionAsync(context.Response.Body, body, script, context.RequestAborted);
                return;
            }

            await WriteJsonAsync(context, 200, engine.Embeddings(body, script));
            return;
        }

        context.Response.ContentType = "text/event-stream; charset=utf-8";
        context.Response.Headers.CacheControl = "no-cache";
        await context.Response.StartAsync(context.RequestAborted);
        try
        {
            await engine.WriteChatStreamAsync(context.Response.Body, body, script, context.RequestAborted);
        }
        catch (SimulatedDropException)
        {
            context.Abort();
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The relay went away: nothing to finish.
        }
    }

    private static Task WriteJsonAsync(HttpContext context, int status, byte[] body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = body.Length;
        return context.Response.Body.WriteAsync(body, context.RequestAborted).AsTask();
    }
}
