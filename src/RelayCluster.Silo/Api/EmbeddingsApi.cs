using RelayCluster.Core.Wire;
using RelayCluster.Silo.Relay;

namespace RelayCluster.Silo.Api;

public static class EmbeddingsApi
{
    public static IEndpointRouteBuilder MapEmbeddingsApi(this IEndpointRouteBuilder app)
    {
        // encoding_format (float or base64, the SDKs' default) is the upstream's to honour; the relay passes it on.
        // A plain RequestDelegate with the pipeline (a singleton) looked up once: no parameter binding or service
        // lookup per call on the hot path.
        RelayPipeline? pipeline = null;
        app.MapPost("/v1/embeddings", context =>
            (pipeline ??= context.RequestServices.GetRequiredService<RelayPipeline>()).HandleAsync(context, RelayOperation.Embeddings));
        return app;
    }
}
