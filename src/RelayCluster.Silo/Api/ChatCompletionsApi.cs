using RelayCluster.Core.Wire;
using RelayCluster.Silo.Relay;

namespace RelayCluster.Silo.Api;

public static class ChatCompletionsApi
{
    public static IEndpointRouteBuilder MapChatCompletionsApi(this IEndpointRouteBuilder app)
    {
        // The handler writes the response itself: a stream cannot be a typed result.
        app.MapPost("/v1/chat/completions", (HttpContext context, RelayPipeline pipeline) =>
            pipeline.HandleAsync(context, RelayOperation.ChatCompletions));
        return app;
    }
}
