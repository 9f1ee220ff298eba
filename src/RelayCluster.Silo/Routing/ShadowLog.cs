using System.Text.Json.Nodes;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Routing;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Silo.Routing;

/// <summary>One shadowed request: both calls side by side.</summary>
internal sealed record ShadowComparison(
    string RequestId, DateTimeOffset At, string PrimaryModel, string ShadowModel, int PrimaryStatus, int ShadowStatus,
    double PrimaryLatencyMs, double ShadowLatencyMs, int PrimaryOutputChars, int? ShadowOutputChars, bool ExactMatch, double Similarity, string? ShadowError)
{
    public static ShadowComparison Of(string requestId, DateTimeOffset at, PrimaryOutcome primary, string shadowModel, ShadowOutcome shadow)
    {
        var exact = shadow.Content is not null && string.Equals(primary.Content, shadow.Content, StringComparison.Ordinal);
        return new ShadowComparison(requestId, at, primary.Model, shadowModel, primary.Status, shadow.Status, primary.LatencyMs, shadow.LatencyMs,
            primary.Content.Length, shadow.Content?.Length, exact, shadow.Content is null ? 0 : WordSimilarity(primary.Content, shadow.Content), shadow.Error);
    }

    /// <summary>Jaccard similarity of the two texts' lower-cased word sets: 1 for the same words, 0 for none shared.</summary>
    public static double WordSimilarity(string a, string b)
    {
        static HashSet<string> Words(string text) =>
            new(text.ToLowerInvariant().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries), StringComparer.Ordinal);

        var (left, right) = (Words(a), Words(b));
        if (left.Count == 0 && right.Count == 0)
        {
            return 1;
        }

        var shared = left.Count(right.Contains);
        return (double)shared / (left.Count + right.Count - shared);
    }

    public JsonObject ToJson() => new()
    {
        ["request_id"] = RequestId,
        ["at"] = At.ToUnixTimeMilliseconds(),
        ["primary_model"] = PrimaryModel,
        ["shadow_model"] = ShadowModel,
        ["primary_status"] = PrimaryStatus,
        ["shadow_status"] = ShadowStatus,
        ["primary_latency_ms"] = Math.Round(PrimaryLatencyMs, 3),
        ["shadow_latency_ms"] = Math.Round(ShadowLatencyMs, 3),
        ["primary_output_chars"] = PrimaryOutputChars,
        ["shadow_output_chars"] = ShadowOutputChars,
        ["exact_match"] = ExactMatch,
        ["similarity"] = Math.Round(Similarity, 4),
        ["shadow_error"] = ShadowError,
    };
}

/// <summary>
/// Records shadow comparisons in the shadow store and shows them to admins: a bounded window of recent ones and
/// running aggregates per route. Writing happens off the caller's path (the shadow call already ended); a store
/// that is away costs the record, never the request.
/// </summary>
internal sealed partial class ShadowLog(IShadowStore store, RelayOptions options, ILogger<ShadowLog> logger)
{
    public void Dropped(string route) => Write(route, "", ShadowTotals.None with { Dropped = 1 });

    public void Record(string route, ShadowComparison c) => Write(route, c.ToJson().ToJsonString(), new ShadowTotals(
        Compared: 1, Dropped: 0, ExactMatches: c.ExactMatch ? 1 : 0, StatusMatches: c.PrimaryStatus == c.ShadowStatus ? 1 : 0,
        ShadowFailures: c.ShadowStatus is >= 200 and < 300 ? 0 : 1, SimilaritySum: c.Similarity,
        PrimaryLatencySumMs: c.PrimaryLatencyMs, ShadowLatencySumMs: c.ShadowLatencyMs));

    public async Task<JsonObject> ViewAsync(string route)
    {
        var (t, recent) = await store.ReadAsync(route);
        double Mean(double sum) => t.Compared == 0 ? 0 : Math.Round(sum / t.Compared, 4);
        return new JsonObject
        {
            ["object"] = "route.shadow",
            ["model"] = route,
            ["scope"] = store.Scope,
            ["aggregates"] = new JsonObject
            {
                ["compared"] = t.Compared,
                ["dropped"] = t.Dropped,
                ["exact_matches"] = t.ExactMatches,
                ["status_matches"] = t.StatusMatches,
                ["shadow_failures"] = t.ShadowFailures,
                ["mean_similarity"] = Mean(t.SimilaritySum),
                ["mean_primary_latency_ms"] = Mean(t.PrimaryLatencySumMs),
                ["mean_shadow_latency_ms"] = Mean(t.ShadowLatencySumMs),
            },
            ["recent"] = new JsonArray([.. recent.Select(json => JsonNode.Parse(json))]),
        };
    }

    private void Write(string route, string comparisonJson, ShadowTotals delta) => _ = WriteAsync(route, comparisonJson, delta);

    private async Task WriteAsync(string route, string comparisonJson, ShadowTotals delta)
    {
        try
        {
            await store.RecordAsync(route, comparisonJson, delta, options.Shadow.Window);
        }
        catch (StoreUnavailableException ex)
        {
            Log.RecordLost(logger, route, ex);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "A shadow comparison of {Route} could not be recorded")]
        public static partial void RecordLost(ILogger logger, string route, Exception exception);
    }
}
