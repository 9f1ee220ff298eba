using System.Text.Json.Nodes;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Metering.Reports;
using RelayCluster.Core.Routing;
using RelayCluster.Core.Wire;

namespace RelayCluster.Silo.Api;

/// <summary>
/// The body of <c>POST /admin/usage/report/compare</c>: <c>{"month"?: "YYYY-MM", "tenant"?: id, "prices": {"&lt;model&gt;":
/// {"input_per_mtok": n, "output_per_mtok": n, "cached_input_per_mtok"?: n|null}}, "batch_factor"?: n}</c>, prices in USD per
/// million tokens. Every field is checked: a wrong type, a negative or out-of-range number, a malformed model name or an
/// unknown key is a 400 whose <c>param</c> names the field (<c>prices.gpt-4o.input_per_mtok</c>).
/// </summary>
internal sealed record UsageCompareRequest(string? Month, string? Tenant, IReadOnlyDictionary<string, AlternativePrice> Prices, decimal? BatchFactor)
{
    /// <summary>The largest batch factor accepted: a batch lane ten times the interactive price is surely a typo.</summary>
    public const decimal MaxBatchFactor = 10m;

    private static readonly HashSet<string> Known = new(["month", "tenant", "prices", "batch_factor"], StringComparer.Ordinal);
    private static readonly HashSet<string> PriceKnown = new(["input_per_mtok", "output_per_mtok", "cached_input_per_mtok"], StringComparer.Ordinal);

    public static (UsageCompareRequest? Request, RelayError? Error) Parse(JsonObject body)
    {
        if (Unknown(body, Known, "") is { } unknown)
        {
            return (null, unknown);
        }

        var (month, monthError) = JsonBody.OptionalString(body, "month");
        var (tenant, tenantError) = JsonBody.OptionalString(body, "tenant");
        if ((monthError ?? tenantError) is { } stringError)
        {
            return (null, stringError);
        }

        decimal? batchFactor = null;
        if (body["batch_factor"] is { } factorNode)
        {
            var (factor, factorError) = Number(factorNode, "batch_factor", MaxBatchFactor);
            if (factorError is not null)
            {
                return (null, factorError);
            }

            batchFactor = factor;
        }

        if (body["prices"] is not JsonObject table)
        {
            return (null, body["prices"] is null
                ? RelayError.MissingParameter("prices")
                : RelayError.InvalidType("prices", "an object", JsonKinds.Describe(body["prices"])));
        }

        var prices = new Dictionary<string, AlternativePrice>(StringComparer.Ordinal);
        foreach (var (model, node) in table)
        {
            if (!ModelNames.IsValid(model))
            {
                return (null, RelayError.InvalidValue("prices", $"a key is not a model name: 1 to {ModelNames.MaxLength} letters, digits and - . _ : / @ +."));
            }

            var (price, priceError) = Price(model, node);
            if (priceError is not null)
            {
                return (null, priceError);
            }

            prices[model] = price!;
        }

        return (new UsageCompareRequest(month, tenant, prices, batchFactor), null);
    }

    private static (AlternativePrice? Price, RelayError? Error) Price(string model, JsonNode? node)
    {
        var param = $"prices.{model}";
        if (node is not JsonObject fields)
        {
            return (null, RelayError.InvalidType(param, "an object", JsonKinds.Describe(node)));
        }

        if (Unknown(fields, PriceKnown, param + ".") is { } unknown)
        {
            return (null, unknown);
        }

        var (input, inputError) = Required(fields, "input_per_mtok", param);
        var (output, outputError) = Required(fields, "output_per_mtok", param);
        decimal? cached = null;
        RelayError? cachedError = null;
        if (fields["cached_input_per_mtok"] is { } cachedNode)
        {
            (var value, cachedError) = Number(cachedNode, param + ".cached_input_per_mtok", ModelOptions.CeilingPricePerMTok);
            cached = value;
        }

        if ((inputError ?? outputError ?? cachedError) is { } error)
        {
            return (null, error);
        }

        // As in the configuration: a cache read is a discount, never dearer than the input it replaces.
        return cached > input
            ? (null, RelayError.InvalidValue(param + ".cached_input_per_mtok", $"must be at most input_per_mtok ({input})."))
            : (new AlternativePrice(input, output, cached), null);
    }

    private static (decimal Value, RelayError? Error) Required(JsonObject fields, string name, string param) => fields[name] is { } node
        ? Number(node, $"{param}.{name}", ModelOptions.CeilingPricePerMTok)
        : (0m, RelayError.MissingParameter($"{param}.{name}"));

    /// <summary>A JSON number in [0, <paramref name="max"/>], read exactly as a decimal (no binary floating point on the way).</summary>
    private static (decimal Value, RelayError? Error) Number(JsonNode? node, string param, decimal max)
    {
        if (!JsonKinds.IsNumber(node))
        {
            return (0m, RelayError.InvalidType(param, "a number", JsonKinds.Describe(node)));
        }

        return node!.AsValue().TryGetValue(out decimal value) && value >= 0 && value <= max
            ? (value, null)
            : (0m, RelayError.InvalidValue(param, $"expected a number from 0 to {max}."));
    }

    private static RelayError? Unknown(JsonObject fields, HashSet<string> known, string prefix) =>
        fields.Select(f => f.Key).FirstOrDefault(name => !known.Contains(name)) is { } unknown
            ? RelayError.UnknownParameter(unknown, prefix.Length + unknown.Length <= 128 ? prefix + unknown : null)
            : null;
}
