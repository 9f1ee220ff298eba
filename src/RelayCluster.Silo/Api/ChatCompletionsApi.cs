using RelayCluster.Core.Wire;
using RelayCluster.Silo.Relay;

namespace RelayCluster.Silo.Api;

public static class ChatCompletionsApi
{
    public static IEndpointRouteBuilder MapChatCompletionsApi(this IEndpointRouteBuilder app)
    {
        // The handler writes the response itself: a stream cannot be a typed result.
        // A plain RequestDelegate with the pipeline (a singleton) looked up once: no parameter binding or service
        // lookup per call on the hot path.
        RelayPipeline? pipeline = null;
        app.MapPost("/v1/chat/completions", context =>
            (pipeline ??= context.RequestServices.GetRequiredService<RelayPipeline>()).HandleAsync(context, RelayOperation.ChatCompletions));
        return app;
    }
}
