using Microsoft.AspNetCore.Http.HttpResults;
using RelayCluster.Core.Routing;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Http;

namespace RelayCluster.Silo.Api;

/// <summary>/v1/models: only the models the calling tenant may use; others do not exist for it.</summary>
public static class ModelsApi
{
    public static IEndpointRouteBuilder MapModelsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/models", ListModels);
        app.MapGet("/v1/models/{**id}", GetModelAsync);
        return app;
    }

    private static Ok<ModelList> ListModels(HttpContext context, ModelRouter router)
    {
        var tenant = context.Tenant();
        var models = router.Models.Where(m => tenant.AllowedModels.Allows(m.Model)).OrderBy(m => m.Model, StringComparer.Ordinal).Select(ToObject).ToList();
        return TypedResults.Ok(new ModelList("list", models));
    }

    private static async Task<Results<Ok<ModelObject>, EmptyHttpResult>> GetModelAsync(string id, HttpContext context, ModelRouter router)
    {
        var tenant = context.Tenant();
        var route = ModelNames.IsValid(id) ? router.Resolve(id) : null;
        if (route is null || !tenant.AllowedModels.Allows(route.Model))
        {
            await ErrorResponses.WriteAsync(context, RelayError.ModelNotFound(id));
            return TypedResults.Empty;
        }

        // An alias is shown under the name asked for, as OpenAI shows a model alias.
        return TypedResults.Ok(ToObject(route) with { Id = id });
    }

    private static ModelObject ToObject(ModelRoute route) => new(route.Model, "model", route.Created, route.OwnedBy);
}
