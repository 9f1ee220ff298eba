using RelayCluster.Core.Wire;
using RelayCluster.Silo.Http;

namespace RelayCluster.Silo.Api;

/// <summary>
/// One rule for an id a caller sends: the route value or query parameter it comes in, the format it must have
/// (the same definition that mints such ids), and the error a malformed one gets.
/// </summary>
internal sealed record IdRule(string Name, Func<string?, bool> IsValid, Func<string, RelayError> Error, bool InQuery = false)
{
    /// <summary>A path id: a malformed one is answered as a missing one is (the given 404).</summary>
    public static IdRule Path(string name, Func<string?, bool> isValid, Func<string, RelayError> notFound) => new(name, isValid, notFound);

    /// <summary>A cursor (<c>after</c>): a malformed one is a 400 naming the parameter.</summary>
    public static IdRule Cursor(Func<string?, bool> isValid) =>
        new("after", isValid, value => RelayError.InvalidValue("after", "expected the id of an object from a previous page."), InQuery: true);
}

/// <summary>
/// Checks every id of a request against its format before any handler runs, so no malformed id (a sibling key
/// such as <c>batch_X:chunks</c>, a pattern, a path, a control character) ever reaches a store. Applied once per
/// endpoint group.
/// </summary>
internal static class IdFormatFilter
{
    public static TBuilder RequireIdFormats<TBuilder>(this TBuilder group, params IdRule[] rules)
        where TBuilder : IEndpointConventionBuilder => group.AddEndpointFilter(async (invocation, next) =>
        {
            var request = invocation.HttpContext.Request;
            foreach (var rule in rules)
            {
                string? value;
                bool present;
                if (rule.InQuery)
                {
                    present = request.Query.TryGetValue(rule.Name, out var values);
                    value = values.ToString(); // repeated: joined with commas, so never a valid id
                }
                else
                {
                    present = request.RouteValues.TryGetValue(rule.Name, out var routeValue);
                    value = routeValue?.ToString();
                }

                if (present && !rule.IsValid(value))
                {
                    await ErrorResponses.WriteAsync(invocation.HttpContext, rule.Error(value ?? ""));
                    return TypedResults.Empty;
                }
            }

            return await next(invocation);
        });
}
