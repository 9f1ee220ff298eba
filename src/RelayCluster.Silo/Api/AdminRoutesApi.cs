using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using RelayCluster.Core.Routing;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Http;
using RelayCluster.Silo.Routing;
using RelayCluster.Upstreams.Resilience;

namespace RelayCluster.Silo.Api;

/// <summary>
/// /admin/routes and /admin/providers/health. Every write goes to the route store, which announces it to
/// every silo (each reloads its table at once); this silo reloads before answering, so the change is in
/// force here when the response arrives and on the others within milliseconds.
/// </summary>
internal static class AdminRoutesApi
{
    // A malformed name cannot name an existing route (404), and cannot become one (400).
    private static readonly IdRule ExistingRoute = IdRule.Path("model", ModelNames.IsValid, NotFound);
    private static readonly IdRule NewRoute = IdRule.Path("model", m => ModelNames.IsValid(m) && !ModelNames.IsReservedRoute(m!),
        model => RelayError.InvalidValue("model", ModelNames.IsReservedRoute(model)
            ? $"'{model}' is no route name: GET /admin/routes/{ModelNames.ReservedRouteName} is the route statistics."
            : $"'{model}' is not a model name: 1 to {ModelNames.MaxLength} letters, digits and - . _ : / @ +."));

    public static RouteGroupBuilder MapAdminRoutesApi(this RouteGroupBuilder admin)
    {
        admin.MapGet("/routes", (RouteTable table) => Results.Json(new JsonObject
        {
            ["object"] = "list",
            ["data"] = new JsonArray([.. table.Definitions.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => (JsonNode)View(r.Key, r.Value))]),
        }));
        admin.MapGet("/routes/{model}", GetAsync).RequireIdFormats(ExistingRoute);
        admin.MapPut("/routes/{model}", PutAsync).RequireIdFormats(NewRoute);
        admin.MapPatch("/routes/{model}/weights", PatchWeightsAsync).RequireIdFormats(ExistingRoute);
        admin.MapPost("/routes/{model}/activate", ActivateAsync).RequireIdFormats(ExistingRoute);
        admin.MapDelete("/routes/{model}", DeleteAsync).RequireIdFormats(ExistingRoute);
        admin.MapGet("/routes/{model}/shadow", async (string model, ShadowLog shadows) => Results.Json(await shadows.ViewAsync(model))).RequireIdFormats(ExistingRoute);
        admin.MapGet("/providers/health", (IProviderHealthSource health) => Results.Json(new JsonObject
        {
            ["object"] = "list",
            ["data"] = JsonSerializer.SerializeToNode(health.GetHealth(), HealthJsonContext.Default.IReadOnlyListProviderHealthSnapshot),
        }));
        return admin;
    }

    private static async Task<IResult> GetAsync(string model, HttpContext context, RouteTable table) =>
        table.Definitions.TryGetValue(model, out var route) ? Results.Json(View(model, route)) : await ErrorResponses.FailAsync(context, NotFound(model));

    private static async Task<IResult> PutAsync(string model, HttpContext context, RouteTable table, IRouteStore store)
    {
        var (body, invalid) = await JsonBody.ReadCheckedAsync(context);
        if (invalid is not null)
        {
            return await ErrorResponses.FailAsync(context, invalid);
        }

        RouteDefinition? route;
        try
        {
            route = JsonSerializer.Deserialize(body.Span, RouteJsonContext.Default.RouteDefinition);
        }
        catch (JsonException ex)
        {
            // Well-formed JSON of the wrong shape: a field of the wrong type, or a number out of its range.
            return await ErrorResponses.FailAsync(context, RelayError.InvalidValue(ex.Path is { Length: > 1 } path ? path.TrimStart('$', '.') : "route",
                "the route does not have the expected shape (see GET /admin/routes for one)."));
        }

        return route is null ? await ErrorResponses.FailAsync(context, RelayError.InvalidJson()) : await SaveAsync(context, model, route.Normalize(), table, store);
    }

    /// <summary><c>{"alternative"?: name, "lane"?: "targets"|"stream"|"non_stream"|"batch", "weights": {model: weight}}</c></summary>
    private static async Task<IResult> PatchWeightsAsync(string model, HttpContext context, RouteTable table, IRouteStore store)
    {
        if (!table.Definitions.TryGetValue(model, out var current))
        {
            return await ErrorResponses.FailAsync(context, NotFound(model));
        }

        var (body, invalid) = await JsonBody.ReadObjectAsync(context);
        if (body is null)
        {
            return await ErrorResponses.FailAsync(context, invalid!);
        }

        if (body["weights"] is not JsonObject weights)
        {
            return await ErrorResponses.FailAsync(context, body["weights"] is null
                ? RelayError.MissingParameter("weights")
                : RelayError.InvalidType("weights", "an object", JsonKinds.Describe(body["weights"])));
        }

        var route = current.Normalize(); // a copy: the table's own is never changed in place
        var (name, nameError) = JsonBody.OptionalString(body, "alternative", route.Active!);
        var (lane, laneError) = JsonBody.OptionalString(body, "lane", "targets");
        if ((nameError ?? laneError) is { } stringError)
        {
            return await ErrorResponses.FailAsync(context, stringError);
        }

        if (!route.Alternatives.TryGetValue(name!, out var alternative) || alternative.Lists().FirstOrDefault(l => l.Lane == lane).Targets is not { } targets)
        {
            return await ErrorResponses.FailAsync(context, RelayError.InvalidValue("lane", $"the route has no list '{lane}' in alternative '{name}'."));
        }

        foreach (var (target, weight) in weights)
        {
            if (targets.Find(t => t.Model == target) is not { } entry)
            {
                return await ErrorResponses.FailAsync(context, RelayError.InvalidValue("weights", $"'{target}' is not a target of {name}.{lane}."));
            }

            if (!JsonKinds.TryGetInt(weight, out var w) || w is < 0 or > int.MaxValue)
            {
                return await ErrorResponses.FailAsync(context, RelayError.InvalidValue($"weights.{target}", "expected a non-negative integer."));
            }

            entry.Weight = (int)w;
        }

        return await SaveAsync(context, model, route, table, store);
    }

    private static async Task<IResult> ActivateAsync(string model, HttpContext context, RouteTable table, IRouteStore store)
    {
        if (!table.Definitions.TryGetValue(model, out var current))
        {
            return await ErrorResponses.FailAsync(context, NotFound(model));
        }

        var (body, invalid) = await JsonBody.ReadObjectAsync(context, emptyIsObject: true);
        if (body is null)
        {
            return await ErrorResponses.FailAsync(context, invalid!);
        }

        var route = current.Normalize();
        var (alternative, alternativeError) = JsonBody.OptionalString(body, "alternative", null);
        if (alternativeError is not null)
        {
            return await ErrorResponses.FailAsync(context, alternativeError);
        }

        route.Active = alternative;
        return await SaveAsync(context, model, route, table, store);
    }

    /// <summary>Back to configuration: the configured route if there is one, else none (the model serves itself).</summary>
    private static async Task<IResult> DeleteAsync(string model, HttpContext context, RouteTable table, IRouteStore store)
    {
        if (!table.Definitions.ContainsKey(model))
        {
            return await ErrorResponses.FailAsync(context, NotFound(model));
        }

        if (table.Configured(model) is { } configured)
        {
            await store.SetAsync(model, configured.ToJson());
        }
        else
        {
            await store.DeleteAsync(model);
        }

        await table.ReloadAsync();
        return Results.Json(new JsonObject { ["model"] = model, ["object"] = "route.deleted", ["deleted"] = true, ["configured"] = table.Configured(model) is not null });
    }

    private static async Task<IResult> SaveAsync(HttpContext context, string model, RouteDefinition route, RouteTable table, IRouteStore store)
    {
        var problems = RouteValidator.Problems(route, table.IsModel);
        problems.AddRange(RouteValidator.EndpointProblems(route, table.EndpointOf));
        if (problems.Count != 0)
        {
            var (field, message) = problems[0];
            return await ErrorResponses.FailAsync(context, RelayError.InvalidValue(field, $"{message} (route of {model})"));
        }

        await store.SetAsync(model, route.ToJson());
        await table.ReloadAsync();
        return Results.Json(View(model, route));
    }

    private static JsonObject View(string model, RouteDefinition route)
    {
        var view = JsonSerializer.SerializeToNode(route, RouteJsonContext.Default.RouteDefinition)!.AsObject();
        view["model"] = model;
        view["object"] = "route";
        return view;
    }

    private static RelayError NotFound(string model) => RelayError.NotFound($"route '{model}'");
}

[JsonSerializable(typeof(IReadOnlyList<ProviderHealthSnapshot>))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
internal sealed partial class HealthJsonContext : JsonSerializerContext;
