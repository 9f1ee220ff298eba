namespace RelayCluster.Core.Routing;

/// <summary>Running sums over a route's shadow comparisons (means are sums over <see cref="Compared"/>).</summary>
public sealed record ShadowTotals(
    long Compared, long Dropped, long ExactMatches, long StatusMatches, long ShadowFailures,
    double SimilaritySum, double PrimaryLatencySumMs, double ShadowLatencySumMs)
{
    public static readonly ShadowTotals None = new(0, 0, 0, 0, 0, 0, 0, 0);

    public ShadowTotals Plus(ShadowTotals d) => new(
        Compared + d.Compared, Dropped + d.Dropped, ExactMatches + d.ExactMatches, StatusMatches + d.StatusMatches, ShadowFailures + d.ShadowFailures,
        SimilaritySum + d.SimilaritySum, PrimaryLatencySumMs + d.PrimaryLatencySumMs, ShadowLatencySumMs + d.ShadowLatencySumMs);
}

/// <summary>
/// Where shadow comparisons are kept for admins: per route, the most recent ones (a bounded window, newest first)
/// and running totals. The memory store keeps its process's; the Redis store the whole cluster's, so an admin
/// behind a load balancer sees every silo's comparisons whichever silo answers.
/// </summary>
public interface IShadowStore
{
    /// <summary>Adds one comparison (its JSON) and its contribution to the totals.</summary>
    Task RecordAsync(string route, string comparisonJson, ShadowTotals delta, int window);

    /// <summary>The totals and the recent comparisons' JSON, newest first.</summary>
    Task<(ShadowTotals Totals, IReadOnlyList<string> Recent)> ReadAsync(string route);

    /// <summary>The scope an admin sees: <c>silo</c> or <c>cluster</c>.</summary>
    string Scope { get; }
}

public sealed class MemoryShadowStore : IShadowStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (ShadowTotals Totals, LinkedList<string> Recent)> _routes = new(StringComparer.Ordinal);

    public string Scope => "silo";

    public Task RecordAsync(string route, string comparisonJson, ShadowTotals delta, int window)
    {
        lock (_lock)
        {
            var (totals, recent) = _routes.TryGetValue(route, out var known) ? known : (ShadowTotals.None, new LinkedList<string>());
            if (comparisonJson.Length > 0)
            {
                recent.AddFirst(comparisonJson);
                while (recent.Count > window)
                {
                    recent.RemoveLast();
                }
            }

            _routes[route] = (totals.Plus(delta), recent);
        }

        return Task.CompletedTask;
    }

    public Task<(ShadowTotals Totals, IReadOnlyList<string> Recent)> ReadAsync(string route)
    {
        lock (_lock)
        {
            return Task.FromResult<(ShadowTotals, IReadOnlyList<string>)>(_routes.TryGetValue(route, out var known)
                ? (known.Totals, [.. known.Recent])
                : (ShadowTotals.None, []));
        }
    }
}
