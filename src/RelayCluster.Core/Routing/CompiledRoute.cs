namespace RelayCluster.Core.Routing;

/// <summary>The targets one call may use, in the order to try them, and its shadow copy if it was sampled.</summary>
/// <param name="RouteModel">The routed model name, or null when the model has no route (a single target, itself).</param>
public sealed record RoutePlan(string? RouteModel, string? Alternative, IReadOnlyList<ModelRoute> Targets, ModelRoute? Shadow)
{
    public static RoutePlan Single(ModelRoute route) => new(null, null, [route], null);
}

/// <summary>
/// A stored route resolved against the configured models, ready for the hot path: picking a plan is a hash
/// and a few array reads, no allocation beyond the plan itself.
/// </summary>
public sealed class CompiledRoute
{
    private readonly TargetList _targets;
    private readonly TargetList? _stream;
    private readonly TargetList? _nonStream;
    private readonly TargetList? _batch;
    private readonly ModelRoute? _shadow;
    private readonly double _shadowPercent;

    private CompiledRoute(string model, string alternative, RouteAlternative active, Func<string, ModelRoute> models)
    {
        Model = model;
        Alternative = alternative;
        _stream = TargetList.From(active.Stream, models);
        _nonStream = TargetList.From(active.NonStream, models);
        _batch = TargetList.From(active.Batch, models);
        _targets = TargetList.From(active.Targets, models) ?? _nonStream ?? _stream ?? _batch!;
        if (active.Shadow is { Percent: > 0 } shadow)
        {
            _shadow = models(shadow.Model);
            _shadowPercent = shadow.Percent;
        }
    }

    public string Model { get; }

    public string Alternative { get; }

    /// <summary>Compiles the active alternative of a valid, normalized route.</summary>
    public static CompiledRoute Compile(string model, RouteDefinition route, Func<string, ModelRoute> models) =>
        new(model, route.Active!, route.Alternatives[route.Active!], models);

    /// <summary>
    /// The plan for one call: the lane's list (else the default one), its weighted pick first when weighted,
    /// and the shadow if this request id falls in the shadow share. Both draws hash the request id, so the
    /// same id always gets the same answer, on every silo.
    /// </summary>
    public RoutePlan Plan(bool stream, bool batch, string requestId)
    {
        var list = (batch ? _batch : stream ? _stream : _nonStream) ?? _targets;
        var shadow = _shadow is not null && StickyHash.Fraction(requestId, "shadow") * 100 < _shadowPercent ? _shadow : null;
        return new RoutePlan(Model, Alternative, list.Order(requestId), shadow);
    }

    /// <summary>Every target a lane of this route could use (the worst case of admission covers them all).</summary>
    public IEnumerable<ModelRoute> AllTargets() =>
        new[] { _targets, _stream, _nonStream, _batch }.Where(l => l is not null).SelectMany(l => l!.Routes);

    private sealed class TargetList(ModelRoute[] routes, int[]? weights)
    {
        private readonly long _total = weights?.Sum(w => (long)w) ?? 0;

        public ModelRoute[] Routes => routes;

        public static TargetList? From(List<RouteTarget>? targets, Func<string, ModelRoute> models) => targets is { Count: > 0 }
            ? new TargetList([.. targets.Select(t => models(t.Model))], targets.All(t => t.Weight is not null) ? [.. targets.Select(t => t.Weight!.Value)] : null)
            : null;

        public ModelRoute[] Order(string requestId)
        {
            if (weights is null || routes.Length == 1)
            {
                return routes;
            }

            // A weight of 0 is never picked (the point is below the total, so a positive weight ends the walk)
            // but stays in the list as a fallback.
            var point = (long)(StickyHash.Of(requestId, "split") % (ulong)_total);
            var picked = 0;
            for (; picked < weights.Length - 1 && point >= weights[picked]; picked++)
            {
                point -= weights[picked];
            }

            // The weighted pick first; the others stay behind it, in listed order, as its fallbacks.
            var order = new ModelRoute[routes.Length];
            order[0] = routes[picked];
            for (int i = 0, next = 1; i < routes.Length; i++)
            {
                if (i != picked)
                {
                    order[next++] = routes[i];
                }
            }

            return order;
        }
    }
}

/// <summary>
/// A stable hash of a request id (FNV-1a, 64 bit): the same on every silo and every run, unlike
/// <see cref="string.GetHashCode()"/>, so a split and a shadow sample are sticky per request id cluster-wide.
/// </summary>
public static class StickyHash
{
    public static ulong Of(string key, string salt)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in salt)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        hash = (hash ^ '|') * 1099511628211UL;
        foreach (var c in key)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        // FNV's low bits mix poorly for keys that differ only at the end: finish with a 64-bit mixer.
        hash ^= hash >> 33;
        hash *= 0xff51afd7ed558ccdUL;
        hash ^= hash >> 33;
        hash *= 0xc4ceb9fe1a85ec53UL;
        return hash ^ (hash >> 33);
    }

    /// <summary>The hash as a fraction in [0, 1).</summary>
    public static double Fraction(string key, string salt) => (Of(key, salt) >> 11) * (1.0 / (1UL << 53));
}
