using RelayCluster.Core.Wire;
using RelayCluster.Silo.Relay;

namespace RelayCluster.Silo.Api;

public static class EmbeddingsApi
{
    public static IEndpointRouteBuilder MapEmbeddingsApi(this IEndpointRouteBuilder app)
    {
        // encoding_format (float or base64, the SDKs' default) is the upstream's to honour; the relay passes it on.
        app.MapPost("/v1/embeddings", (HttpContext context, RelayPipeline pipeline) =>
            pipeline.HandleAsync(context, RelayOperation.Embeddings));
        return app;
    }
}
