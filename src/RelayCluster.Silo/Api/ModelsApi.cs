using Microsoft.AspNetCore.Http.HttpResults;
using RelayCluster.Core.Routing;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Http;
using RelayCluster.Silo.Routing;

namespace RelayCluster.Silo.Api;

/// <summary>
/// /v1/models: every name the calling tenant may call (configured models, aliases, routes), and nothing else; the
/// others do not exist for it. Listed and retrievable iff a call with the name would not be refused as unknown
/// (<see cref="CallableModels"/>); a route written a moment ago on any silo is in this silo's table already.
/// </summary>
public static class ModelsApi
{
    public static IEndpointRouteBuilder MapModelsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/models", ListModels);
        app.MapGet("/v1/models/{**id}", GetModelAsync);
        return app;
    }

    private static Ok<ModelList> ListModels(HttpContext context, ModelRouter router, RouteTable routes)
    {
        var models = CallableModels.List(router, routes, context.Tenant()).Select(m => ToObject(m.Id, m.Model.Shown)).ToList();
        return TypedResults.Ok(new ModelList("list", models));
    }

    private static async Task<Results<Ok<ModelObject>, EmptyHttpResult>> GetModelAsync(string id, HttpContext context, ModelRouter router, RouteTable routes)
    {
        if (!ModelNames.IsValid(id) || CallableModels.Resolve(router, routes, context.Tenant(), id) is not { } callable)
        {
            await ErrorResponses.WriteAsync(context, RelayError.ModelNotFound(id));
            return TypedResults.Empty;
        }

        // An alias or a route is shown under the name asked for, as OpenAI shows a model alias.
        return TypedResults.Ok(ToObject(id, callable.Shown));
    }

    private static ModelObject ToObject(string id, ModelRoute shown) => new(id, "model", shown.Created, shown.OwnedBy);
}
