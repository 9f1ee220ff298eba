using RelayCluster.Core.Auth;
using RelayCluster.Core.Routing;

namespace RelayCluster.Silo.Routing;

/// <summary>
/// The one answer to "may this tenant call this name, and what does it reach": a route under the name asked for,
/// else the configured model (exact name, alias, prefix alias, default) and that model's route if it has one. A name
/// the tenant may not use looks exactly like one that does not exist. The model calls and /v1/models both ask
/// here, so a name is listed and retrievable exactly when a call with it would not be refused as unknown.
/// </summary>
internal static class CallableModels
{
    /// <summary>What a callable name reaches, or null when the tenant may not call it (or it names nothing).</summary>
    public static CallableModel? Resolve(ModelRouter router, RouteTable routes, Tenant tenant, string requested)
    {
        var route = routes.Find(requested);
        var name = requested;
        ModelRoute? resolved = null;
        if (route is null)
        {
            resolved = router.Resolve(requested);
            name = resolved?.Model ?? name;
            route = resolved is null ? null : routes.Find(resolved.Model);
        }

        if ((route is null && resolved is null) || !tenant.AllowedModels.Allows(name))
        {
            return null;
        }

        // A route's model object is that of the configured model of its name, else of its first target.
        var shown = resolved ?? router.Configured(name) ?? route!.AllTargets().First();
        return new CallableModel(name, route, resolved, shown);
    }

    /// <summary>
    /// Every name the tenant may call that can be listed: configured models, exact aliases and routes (this silo's
    /// table, which every route write on any silo reloads). Prefix aliases and the default model match names without
    /// end; those are retrievable one by one, as the call accepts them, but not listed.
    /// </summary>
    public static IEnumerable<(string Id, CallableModel Model)> List(ModelRouter router, RouteTable routes, Tenant tenant) =>
        router.Models.Select(m => m.Model).Concat(router.ExactAliases).Concat(routes.Routed)
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .Select(id => (Id: id, Model: Resolve(router, routes, tenant, id)))
            .Where(m => m.Model is not null)
            .Select(m => (m.Id, m.Model!));
}

/// <summary>A callable name resolved: the name the tenant's allow-list judged, its route if any, and its configured model.</summary>
/// <param name="Name">The route's name, or the configured model an alias or the default leads to.</param>
/// <param name="Shown">The configured model whose <c>created</c> and <c>owned_by</c> /v1/models shows.</param>
internal sealed record CallableModel(string Name, CompiledRoute? Route, ModelRoute? Resolved, ModelRoute Shown)
{
    /// <summary>The endpoint the name serves: the route's targets' (one kind, see RouteValidator), else the model's.</summary>
    public string Endpoint => Route?.AllTargets().First().Endpoint ?? Resolved!.Endpoint;
}
