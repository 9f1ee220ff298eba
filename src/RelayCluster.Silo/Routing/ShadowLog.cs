using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using RelayCluster.Core.Configuration;

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
/// The recent shadow comparisons of each route on this silo (a bounded window) and running aggregates since
/// start. Per silo: each silo reports what it shadowed; an admin sums silos for the cluster view.
/// </summary>
internal sealed class ShadowLog(RelayOptions options)
{
    private readonly ConcurrentDictionary<string, RouteShadows> _routes = new(StringComparer.Ordinal);

    public void Dropped(string route) => For(route).Dropped();

    public void Record(string route, ShadowComparison comparison) => For(route).Add(comparison, options.Shadow.Window);

    public JsonObject View(string route) => For(route).View(route);

    private RouteShadows For(string route) => _routes.GetOrAdd(route, _ => new RouteShadows());

    private sealed class RouteShadows
    {
        private readonly Lock _lock = new();
        private readonly Queue<ShadowComparison> _recent = new();
        private long _count;
        private long _dropped;
        private long _exact;
        private long _statusMatches;
        private long _shadowFailures;
        private double _similarity;
        private double _primaryLatency;
        private double _shadowLatency;

        public void Dropped()
        {
            lock (_lock)
            {
                _dropped++;
            }
        }

        public void Add(ShadowComparison c, int window)
        {
            lock (_lock)
            {
                _recent.Enqueue(c);
                while (_recent.Count > window)
                {
                    _recent.Dequeue();
                }

                _count++;
                _exact += c.ExactMatch ? 1 : 0;
                _statusMatches += c.PrimaryStatus == c.ShadowStatus ? 1 : 0;
                _shadowFailures += c.ShadowStatus is >= 200 and < 300 ? 0 : 1;
                _similarity += c.Similarity;
                _primaryLatency += c.PrimaryLatencyMs;
                _shadowLatency += c.ShadowLatencyMs;
            }
        }

        public JsonObject View(string route)
        {
            lock (_lock)
            {
                double Mean(double sum) => _count == 0 ? 0 : Math.Round(sum / _count, 4);
                return new JsonObject
                {
                    ["object"] = "route.shadow",
                    ["model"] = route,
                    ["scope"] = "silo",
                    ["aggregates"] = new JsonObject
                    {
                        ["compared"] = _count,
                        ["dropped"] = _dropped,
                        ["exact_matches"] = _exact,
                        ["status_matches"] = _statusMatches,
                        ["shadow_failures"] = _shadowFailures,
                        ["mean_similarity"] = Mean(_similarity),
                        ["mean_primary_latency_ms"] = Mean(_primaryLatency),
                        ["mean_shadow_latency_ms"] = Mean(_shadowLatency),
                    },
                    ["recent"] = new JsonArray([.. _recent.Reverse().Select(c => (JsonNode)c.ToJson())]),
                };
            }
        }
    }
}
