using System.Collections.Concurrent;
using RelayCluster.Core.Routing;

namespace RelayCluster.Silo.Routing;

/// <summary>
/// This silo's per-route-target traffic over the last 60 seconds, for <c>GET /admin/routes/stats</c> (summed over every
/// silo there). <see cref="ModelCall"/> records each try of a target of a routed call:
/// <list type="bullet">
/// <item><b>requests</b>: tries of the target, one per call that reached it in its fallback chain (the provider's own
/// retries inside that try are not counted apart), including tries refused at once by its open breaker;</item>
/// <item><b>errors</b>: those that failed at the target: unreachable, timed out, refused by the breaker, or answered a
/// status that sends the call to the next target (408, 409, 429, 5xx, 401/403/404 of the relay's own key or model name;
/// an answer the relay's vetting rejected counts as a 502). A 400 (the caller's mistake) is no error of the target; a
/// try ended by the caller's cancellation is not counted;</item>
/// <item><b>latency</b>: of tries that got an HTTP answer, the time from sending to the answer kept or given up (headers
/// for a stream, the whole vetted body otherwise), provider retries included, in <see cref="LatencyBuckets"/>.</item>
/// </list>
/// Recording: one dictionary read (no allocation after a target's first call) and two or three interlocked increments.
/// </summary>
internal sealed class RouteTargetStats(TimeProvider time)
{
    private readonly ConcurrentDictionary<(string Route, string Alternative, string Target), TargetWindow> _targets = new();

    public void Record(string route, string alternative, ModelRoute target, bool error, double? latencyMs)
    {
        var key = (route, alternative, target.Model);
        if (!_targets.TryGetValue(key, out var window))
        {
            window = _targets.GetOrAdd(key, _ => new TargetWindow());
        }

        window.Record(NowSecond(), error, latencyMs);
    }

    /// <summary>Every target with traffic in the window: its sums (requests, errors, then the latency buckets).</summary>
    public List<RouteTargetCounts> Snapshot()
    {
        var now = NowSecond();
        var list = new List<RouteTargetCounts>();
        foreach (var ((route, alternative, target), window) in _targets)
        {
            var sums = new long[TargetWindow.SumsLength];
            if (window.AddTo(now, sums))
            {
                list.Add(new RouteTargetCounts(route, alternative, target, sums));
            }
        }

        return list;
    }

    private long NowSecond() => time.GetTimestamp() / time.TimestampFrequency;
}

/// <summary>One target's window on one silo: <see cref="Sums"/> holds requests, errors, then the latency buckets.</summary>
[GenerateSerializer, Immutable, Alias("relay.route-target-counts")]
public sealed record RouteTargetCounts([property: Id(0)] string Route, [property: Id(1)] string Alternative, [property: Id(2)] string Target, [property: Id(3)] long[] Sums);

/// <summary>One silo's route stats and the breaker state of each of its providers (<c>closed</c>, <c>open</c>, <c>half_open</c>, <c>isolated</c>).</summary>
[GenerateSerializer, Immutable, Alias("relay.silo-route-stats")]
public sealed record SiloRouteStats([property: Id(0)] List<RouteTargetCounts> Targets, [property: Id(1)] Dictionary<string, string> Circuits);
