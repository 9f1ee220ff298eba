namespace RelayCluster.Core.Routing;

/// <summary>Why a (normalized) route cannot serve, for start-up validation and the admin API alike.</summary>
public static class RouteValidator
{
    /// <summary>The problems of <paramref name="route"/>, each naming the field; empty when it is valid.</summary>
    public static List<(string Field, string Message)> Problems(RouteDefinition route, Func<string, bool> isModel)
    {
        var problems = new List<(string, string)>();
        if (route.Alternatives.Count == 0)
        {
            problems.Add(("targets", "a route needs targets (or alternatives with targets)."));
            return problems;
        }

        if (route.Active is null || !route.Alternatives.ContainsKey(route.Active))
        {
            problems.Add(("active", $"'{route.Active}' is not one of the route's alternatives."));
        }

        foreach (var (name, alternative) in route.Alternatives)
        {
            var field = $"alternatives.{name}";
            if (alternative.Targets is not { Count: > 0 } && !alternative.Lists().Any(l => l.Targets.Count > 0))
            {
                problems.Add((field + ".targets", "an alternative needs at least one target."));
            }

            foreach (var (lane, targets) in alternative.Lists())
            {
                ListProblems(problems, $"{field}.{lane}", targets, isModel);
            }

            if (alternative.Shadow is { } shadow)
            {
                if (!isModel(shadow.Model))
                {
                    problems.Add(($"{field}.shadow.model", $"'{shadow.Model}' is not a configured model."));
                }

                if (shadow.Percent is < 0 or > 100 || double.IsNaN(shadow.Percent))
                {
                    problems.Add(($"{field}.shadow.percent", "must be between 0 and 100."));
                }
            }
        }

        return problems;
    }

    /// <summary>
    /// A route serves one endpoint: every target and shadow of every alternative must be a model of one kind
    /// (<see cref="Configuration.ModelEndpoints"/>), or a fallback could turn a chat call into an embeddings call.
    /// <paramref name="endpointOf"/> gives a model's kind, or null for a name that is no model (reported elsewhere).
    /// </summary>
    public static List<(string Field, string Message)> EndpointProblems(RouteDefinition route, Func<string, string?> endpointOf)
    {
        var models = route.Alternatives.Values
            .SelectMany(a => a.Lists().SelectMany(l => l.Targets).Select(t => t.Model).Concat(a.Shadow is { } s ? [s.Model] : []))
            .Distinct(StringComparer.Ordinal)
            .Select(m => (Model: m, Endpoint: endpointOf(m)))
            .Where(m => m.Endpoint is not null)
            .ToList();
        var first = models.FirstOrDefault();
        return models.FirstOrDefault(m => m.Endpoint != first.Endpoint) is { Model: not null } other
            ? [("targets", $"a route serves one endpoint, but '{first.Model}' is a {first.Endpoint} model and '{other.Model}' a {other.Endpoint} model.")]
            : [];
    }

    private static void ListProblems(List<(string, string)> problems, string field, List<RouteTarget> targets, Func<string, bool> isModel)
    {
        if (targets.Count == 0)
        {
            problems.Add((field, "a target list may not be empty."));
        }

        foreach (var target in targets.Where(t => !isModel(t.Model)))
        {
            problems.Add((field, $"'{target.Model}' is not a configured model."));
        }

        if (targets.Select(t => t.Model).Distinct(StringComparer.Ordinal).Count() != targets.Count)
        {
            problems.Add((field, "a target may appear only once in a list."));
        }

        var weighted = targets.Count(t => t.Weight is not null);
        if (weighted != 0 && weighted != targets.Count)
        {
            problems.Add((field, "either every target has a weight or none does."));
        }
        else if (targets.Any(t => t.Weight is < 0))
        {
            problems.Add((field, "weights may not be negative."));
        }
        else if (weighted != 0 && targets.All(t => t.Weight == 0))
        {
            // A weight of 0 drains a target (it stays a fallback); the list still needs one target to pick.
            problems.Add((field, "at least one weight must be positive."));
        }
    }
}
