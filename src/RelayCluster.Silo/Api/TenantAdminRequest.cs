using System.Text.Json.Nodes;
using RelayCluster.Core.Auth;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;
using RelayCluster.Core.Wire;

namespace RelayCluster.Silo.Api;

/// <summary>
/// A tenant create or update body: <c>id</c> (create only), <c>requests_per_minute</c>, <c>tokens_per_minute</c>,
/// <c>max_concurrent</c>, <c>monthly_budget_usd</c> (null = unlimited; absent = unchanged), <c>models</c>;
/// <c>alert_threshold</c> and <c>pause_threshold</c> (fractions of the budget in [0, 1]; 0 = off; null = the relay's
/// default) and <c>alert_webhook_url</c> (an absolute http(s) URL; null = the relay's webhook).
/// </summary>
internal sealed partial record TenantAdminRequest(string? Id, TenantLimitsPatch Limits, IReadOnlyList<string>? Models)
{
    /// <summary>Checks a body read by <see cref="JsonBody.ReadObjectAsync"/>; its read error, if any, is passed on.</summary>
    public static (TenantAdminRequest? Request, RelayError? Error) Parse((JsonObject? Object, RelayError? Error) body, bool requireId)
    {
        if (body.Object is not { } fields)
        {
            return (null, body.Error ?? RelayError.InvalidJson());
        }

        // Unknown fields are refused as OpenAI refuses them: a misspelt limit must not be a silent no-op.
        if (fields.Select(f => f.Key).FirstOrDefault(name => !Known.Contains(name) || (name == "id" && !requireId)) is { } unknown)
        {
            return (null, RelayError.UnknownParameter(unknown, unknown.Length <= 64 ? unknown : null));
        }

        string? id = null;
        if (requireId)
        {
            if (!JsonKinds.IsString(fields["id"]) || !TenantIds.IsValid(fields["id"]!.GetValue<string>()))
            {
                return (null, RelayError.InvalidValue("id", TenantIds.Expected));
            }

            id = fields["id"]!.GetValue<string>();
        }

        var errors = new List<RelayError>();
        var limits = new TenantLimitsPatch(
            Count(fields, "requests_per_minute", errors),
            Count(fields, "tokens_per_minute", errors),
            Count(fields, "max_concurrent", errors),
            Budget(fields, errors),
            Threshold(fields, "alert_threshold", errors),
            Threshold(fields, "pause_threshold", errors),
            Webhook(fields, errors));

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

    private static Change<int?> Count(JsonObject fields, string name, List<RelayError> errors)
    {
        if (!fields.TryGetPropertyValue(name, out var node))
        {
            return Change<int?>.Keep;
        }

        if (node is null)
        {
            return Change<int?>.To(null);
        }

        if (JsonKinds.TryGetInt(node, out var value) && value is >= 1 and <= int.MaxValue)
        {
            return Change<int?>.To((int)value);
        }

        errors.Add(RelayError.InvalidValue(name, "expected a positive integer, or null for unlimited."));
        return Change<int?>.Keep;
    }

    private static Change<long?> Budget(JsonObject fields, List<RelayError> errors)
    {
        if (!fields.TryGetPropertyValue("monthly_budget_usd", out var node))
        {
            return Change<long?>.Keep;
        }

        if (node is null)
        {
            return Change<long?>.To(null);
        }

        if (node is JsonValue v && v.TryGetValue<decimal>(out var usd) && usd >= 0 && usd < 1_000_000_000m)
        {
            return Change<long?>.To(Money.ToNanos(usd));
        }

        errors.Add(RelayError.InvalidValue("monthly_budget_usd", "expected a non-negative number of US dollars, or null for unlimited."));
        return Change<long?>.Keep;
    }

    private static Change<double?> Threshold(JsonObject fields, string name, List<RelayError> errors)
    {
        if (!fields.TryGetPropertyValue(name, out var node))
        {
            return Change<double?>.Keep;
        }

        if (node is null)
        {
            return Change<double?>.To(null);
        }

        if (node is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.Number && v.TryGetValue<double>(out var fraction)
            && TenantLimits.IsThreshold(fraction))
        {
            return Change<double?>.To(fraction);
        }

        errors.Add(RelayError.InvalidValue(name, "expected a fraction of the monthly budget from 0 to 1 (0 turns it off), or null for the relay's default."));
        return Change<double?>.Keep;
    }

    private static Change<string?> Webhook(JsonObject fields, List<RelayError> errors)
    {
        if (!fields.TryGetPropertyValue("alert_webhook_url", out var node))
        {
            return Change<string?>.Keep;
        }

        if (node is null)
        {
            return Change<string?>.To(null);
        }

        // Blank is "unset" in the configuration file (WebhookProblem accepts it), but here it would be stored as a URL.
        if (JsonKinds.IsString(node) && node.GetValue<string>() is { Length: > 0 and <= 2048 } url && !string.IsNullOrWhiteSpace(url)
            && Core.Configuration.AlertOptions.WebhookProblem(url) is null)
        {
            return Change<string?>.To(url);
        }

        errors.Add(RelayError.InvalidValue("alert_webhook_url", "expected an absolute http or https URL of at most 2048 characters, or null for the relay's webhook."));
        return Change<string?>.Keep;
    }

    private static readonly HashSet<string> Known = new(StringComparer.Ordinal)
    {
        "id", "requests_per_minute", "tokens_per_minute", "max_concurrent", "monthly_budget_usd", "models", "alert_threshold", "pause_threshold",
        "alert_webhook_url",
    };
}
