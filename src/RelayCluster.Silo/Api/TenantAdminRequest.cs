using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;
using RelayCluster.Core.Wire;

namespace RelayCluster.Silo.Api;

/// <summary>
/// A tenant create or update body: <c>id</c> (create only), <c>requests_per_minute</c>, <c>tokens_per_minute</c>,
/// <c>max_concurrent</c>, <c>monthly_budget_usd</c> (null = unlimited; absent = unchanged), <c>models</c>.
/// </summary>
internal sealed partial record TenantAdminRequest(string? Id, TenantLimits Limits, IReadOnlyList<string>? Models)
{
    public static (TenantAdminRequest? Request, RelayError? Error) Parse(JsonNode? body, TenantLimits current, bool requireId)
    {
        if (body is not JsonObject fields)
        {
            return (null, RelayError.InvalidJson());
        }

        string? id = null;
        if (requireId)
        {
            if (!JsonKinds.IsString(fields["id"]) || !IdPattern().IsMatch(fields["id"]!.GetValue<string>()))
            {
                return (null, RelayError.InvalidValue("id", "expected 1 to 64 letters, digits, '-' or '_'."));
            }

            id = fields["id"]!.GetValue<string>();
        }

        var errors = new List<RelayError>();
        var limits = new TenantLimits(
            Count(fields, "requests_per_minute", current.RequestsPerMinute, errors),
            Count(fields, "tokens_per_minute", current.TokensPerMinute, errors),
            Count(fields, "max_concurrent", current.MaxConcurrent, errors),
            Budget(fields, current.MonthlyBudgetNanos, errors));

        IReadOnlyList<string>? models = null;
        if (fields.TryGetPropertyValue("models", out var modelsNode))
        {
            if (modelsNode is not JsonArray array || array.Count == 0 || !array.All(m => JsonKinds.IsString(m) && m!.GetValue<string>().Length > 0))
            {
                errors.Add(RelayError.InvalidValue("models", "expected a non-empty array of model names or prefix patterns such as \"gpt-4*\" or \"*\"."));
            }
            else
            {
                models = array.Select(m => m!.GetValue<string>()).ToList();
            }
        }

        return errors.Count > 0 ? (null, errors[0]) : (new TenantAdminRequest(id, limits, models), null);
    }

    private static int? Count(JsonObject fields, string name, int? current, List<RelayError> errors)
    {
        if (!fields.TryGetPropertyValue(name, out var node))
        {
            return current;
        }

        if (node is null)
        {
            return null;
        }

        if (JsonKinds.TryGetInt(node, out var value) && value is >= 1 and <= int.MaxValue)
        {
            return (int)value;
        }

        errors.Add(RelayError.InvalidValue(name, "expected a positive integer, or null for unlimited."));
        return current;
    }

    private static long? Budget(JsonObject fields, long? current, List<RelayError> errors)
    {
        if (!fields.TryGetPropertyValue("monthly_budget_usd", out var node))
        {
            return current;
        }

        if (node is null)
        {
            return null;
        }

        if (node is JsonValue v && v.TryGetValue<decimal>(out var usd) && usd >= 0 && usd < 1_000_000_000m)
        {
            return Money.ToNanos(usd);
        }

        errors.Add(RelayError.InvalidValue("monthly_budget_usd", "expected a non-negative number of US dollars, or null for unlimited."));
        return current;
    }

    // Ids become Redis key names and hash tags: no braces, no spaces, nothing to escape.
    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex IdPattern();
}
