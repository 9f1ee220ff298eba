using System.Buffers;
using System.Text.Json;

namespace RelayCluster.Core.Metering.Reports;

/// <summary>A model's price in another table, in USD per million tokens; cached input at the input price when null.</summary>
public sealed record AlternativePrice(decimal InputPerMTok, decimal OutputPerMTok, decimal? CachedInputPerMTok);

/// <summary>One model of a comparison: what the ledger billed, and what the other table would have (null: unpriced).</summary>
public sealed record ComparisonLine(string Model, long Requests, long CurrentNanos, long? AlternativeNanos);

/// <summary>
/// "What if": a month's usage priced at another table, model by model. The current side is what the ledger billed
/// (each request's cost as booked, at the prices of its day, batch items at the batch price). The alternative side prices
/// the same tokens, per model and lane, the way the relay prices a request (<c>ModelRoute.CostNanos</c>): uncached prompt
/// tokens at the input price, cached ones at the cached-input price (the input price when the table has none), completion
/// tokens at the output price, the batch lane's times <c>batch_factor</c>. Exact decimal arithmetic; rounded up to a
/// nano-dollar once per model, since the tokens come summed (the ledger rounds per request, so pricing a month at its own
/// prices gives at most a nano-dollar a request and token kind less than was billed).
/// </summary>
public static class PriceComparison
{
    public static IReadOnlyList<ComparisonLine> Compare(IEnumerable<TenantUsage> usage, IReadOnlyDictionary<string, AlternativePrice> prices, decimal batchFactor)
    {
        var byModel = new SortedDictionary<string, (long Requests, long Current, decimal Alternative)>(StringComparer.Ordinal);
        foreach (var slice in usage.SelectMany(t => t.Slices))
        {
            var c = slice.Counts;
            var line = byModel.GetValueOrDefault(slice.Model);
            var alternative = line.Alternative;
            if (prices.TryGetValue(slice.Model, out var price))
            {
                alternative = AddSaturating(alternative, () => ExactNanos(c, price, slice.Lane == UsageLanes.Batch ? batchFactor : 1m));
            }

            byModel[slice.Model] = (Saturating.Add(line.Requests, c.Requests), Saturating.Add(line.Current, c.CostNanos), alternative);
        }

        return [.. byModel.Where(m => m.Value.Requests > 0).Select(m => new ComparisonLine(m.Key, m.Value.Requests, m.Value.Current,
            prices.ContainsKey(m.Key) ? ToNanos(m.Value.Alternative) : null))];
    }

    /// <summary>
    /// The comparison as JSON: <c>{"object":"usage.report.comparison","month","tenant","batch_factor","data":[{"model",
    /// "requests","current_usd","current_nanos","alternative_usd","alternative_nanos","difference_usd","difference_nanos",
    /// "saving_percent","unpriced"}],"totals":{"current_usd","current_nanos","compared_current_usd","compared_current_nanos",
    /// "alternative_usd","alternative_nanos","difference_usd","difference_nanos","saving_percent","unpriced_models",
    /// "unpriced_current_usd"}}</c>. difference = alternative − current (negative: the alternative is cheaper); saving_percent
    /// = (current − alternative) / current × 100 to 2 decimals, null when nothing was billed. An unpriced model's
    /// alternative, difference and saving are null, and the totals compare only the priced models (<c>compared_current</c>).
    /// </summary>
    public static byte[] ToJson(string month, string? tenant, decimal batchFactor, IReadOnlyList<ComparisonLine> lines)
    {
        var buffer = new ArrayBufferWriter<byte>(2048);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("object", "usage.report.comparison");
            json.WriteString("month", month);
            json.WriteString("tenant", tenant);
            json.WriteNumber("batch_factor", batchFactor);
            json.WriteStartArray("data");
            foreach (var line in lines)
            {
                json.WriteStartObject();
                json.WriteString("model", line.Model);
                json.WriteNumber("requests", line.Requests);
                WriteSides(json, "current", line.CurrentNanos, line.AlternativeNanos);
                json.WriteBoolean("unpriced", line.AlternativeNanos is null);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            var priced = lines.Where(l => l.AlternativeNanos is not null).ToList();
            var unpriced = lines.Where(l => l.AlternativeNanos is null).ToList();
            json.WriteStartObject("totals");
            WriteMoney(json, "current", Sum(lines.Select(l => l.CurrentNanos)));
            WriteSides(json, "compared_current", Sum(priced.Select(l => l.CurrentNanos)), Sum(priced.Select(l => l.AlternativeNanos!.Value)));
            json.WriteStartArray("unpriced_models");
            unpriced.ForEach(l => json.WriteStringValue(l.Model));
            json.WriteEndArray();
            json.WriteNumber("unpriced_current_usd", Money.ToUsd(Sum(unpriced.Select(l => l.CurrentNanos))));
            json.WriteEndObject();
            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The exact cost of a slice's tokens at <paramref name="price"/> × <paramref name="factor"/>, in (fractional) nano-dollars.</summary>
    public static decimal ExactNanos(UsageCounts counts, AlternativePrice price, decimal factor)
    {
        // USD per million tokens × tokens / 1e6 × 1e9 nanos per USD = tokens × price × 1000.
        var cached = Math.Clamp(counts.CachedTokens, 0, Math.Max(0, counts.PromptTokens));
        var usdPerMTokTokens = ((counts.PromptTokens - cached) * price.InputPerMTok)
            + (cached * (price.CachedInputPerMTok ?? price.InputPerMTok))
            + (counts.CompletionTokens * price.OutputPerMTok);
        return usdPerMTokTokens * 1000m * factor;
    }

    private static void WriteSides(Utf8JsonWriter json, string current, long currentNanos, long? alternativeNanos)
    {
        WriteMoney(json, current, currentNanos);
        if (alternativeNanos is not { } alternative)
        {
            json.WriteNull("alternative_usd");
            json.WriteNull("alternative_nanos");
            json.WriteNull("difference_usd");
            json.WriteNull("difference_nanos");
            json.WriteNull("saving_percent");
            return;
        }

        WriteMoney(json, "alternative", alternative);
        var difference = alternative - (decimal)currentNanos;
        json.WriteNumber("difference_usd", difference / 1_000_000_000m);
        json.WriteNumber("difference_nanos", difference);
        if (currentNanos == 0)
        {
            json.WriteNull("saving_percent");
        }
        else
        {
            json.WriteNumber("saving_percent", decimal.Round(-difference * 100m / currentNanos, 2, MidpointRounding.AwayFromZero));
        }
    }

    private static void WriteMoney(Utf8JsonWriter json, string side, long nanos)
    {
        json.WriteNumber(side + "_usd", Money.ToUsd(nanos));
        json.WriteNumber(side + "_nanos", nanos);
    }

    private static long Sum(IEnumerable<long> values) => values.Aggregate(0L, Saturating.Add);

    private static decimal AddSaturating(decimal sum, Func<decimal> term)
    {
        try
        {
            return sum + term();
        }
        catch (OverflowException)
        {
            return decimal.MaxValue; // beyond any long of nanos: saturates below
        }
    }

    private static long ToNanos(decimal exact)
    {
        var nanos = decimal.Ceiling(exact);
        return nanos >= long.MaxValue ? long.MaxValue : (long)nanos;
    }
}
