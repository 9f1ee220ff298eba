using System.Buffers;
using System.Text.Json;
using RelayCluster.Core.Routing;
using RelayCluster.Silo.Routing;

namespace RelayCluster.Silo.Api;

/// <summary>
/// <c>GET /admin/routes/stats</c>: <c>{"object":"list","window_seconds":60,"data":[{"model","alternative","target",
/// "provider","requests","errors","error_rate","p50_ms","p99_ms","breaker"}]}</c>, one row per target of every
/// alternative of every route (in route, alternative and listed order), its last 60 s summed over every active silo of
/// the cluster (each silo's <see cref="RouteTargetStats"/>, read through its <see cref="IRouteStatsActor"/>). See
/// <see cref="RouteTargetStats"/> for what requests, errors and latency count; p50/p99 are the upper bounds of fixed
/// buckets 1.25× apart (<see cref="LatencyBuckets"/>), so at most 25 % above the truth. A target without traffic has zeros,
/// an error_rate of 0 and null latencies. <c>breaker</c> is the worst state any silo reports for the target's provider
/// (open, then half_open, then closed; <c>isolated</c>, a breaker held open by hand, shows as open). A silo that does not
/// answer within 2 s is left out.
/// </summary>
internal static class AdminRouteStatsApi
{
    private static readonly TimeSpan SiloTimeout = TimeSpan.FromSeconds(2);

    public static RouteGroupBuilder MapAdminRouteStatsApi(this RouteGroupBuilder admin)
    {
        admin.MapGet("/routes/stats", GetAsync);
        return admin;
    }

    private static async Task<IResult> GetAsync(IGrainFactory grains, RouteTable table, ModelRouter router)
    {
        var silos = await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
        var answers = await Task.WhenAll(silos.Keys.Select(async silo =>
        {
            try
            {
                return await grains.GetGrain<IRouteStatsActor>(silo.ToParsableString()).ReadAsync().WaitAsync(SiloTimeout);
            }
            catch (Exception ex) when (ex is OrleansException or TimeoutException or SiloUnavailableException)
            {
                return null; // a silo leaving the cluster: the others' counts still answer
            }
        }));

        var sums = new Dictionary<(string Route, string Alternative, string Target), long[]>();
        var breakers = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var answer in answers.OfType<SiloRouteStats>())
        {
            foreach (var counts in answer.Targets)
            {
                var key = (counts.Route, counts.Alternative, counts.Target);
                if (!sums.TryGetValue(key, out var total))
                {
                    sums[key] = total = new long[counts.Sums.Length];
                }

                for (var i = 0; i < Math.Min(total.Length, counts.Sums.Length); i++)
                {
                    total[i] += counts.Sums[i];
                }
            }

            foreach (var (provider, circuit) in answer.Circuits)
            {
                breakers[provider] = Worst(breakers.GetValueOrDefault(provider, "closed"), circuit);
            }
        }

        return Results.Bytes(Write(table, router, sums, breakers), "application/json");
    }

    private static byte[] Write(RouteTable table, ModelRouter router, Dictionary<(string, string, string), long[]> sums, Dictionary<string, string> breakers)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteNumber("window_seconds", TargetWindow.Seconds);
            w.WriteStartArray("data");
            foreach (var (model, route) in table.Definitions.OrderBy(r => r.Key, StringComparer.Ordinal))
            {
                foreach (var (alternative, definition) in route.Alternatives)
                {
                    foreach (var target in definition.Lists().SelectMany(l => l.Targets).Select(t => t.Model).Distinct(StringComparer.Ordinal))
                    {
                        var provider = router.Configured(target)?.ProviderId;
                        var counts = sums.GetValueOrDefault((model, alternative, target)) ?? new long[TargetWindow.SumsLength];
                        WriteRow(w, model, alternative, target, provider, counts, provider is null ? "closed" : breakers.GetValueOrDefault(provider, "closed"));
                    }
                }
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteRow(Utf8JsonWriter w, string model, string alternative, string target, string? provider, long[] counts, string breaker)
    {
        var (requests, errors) = (counts[0], counts[1]);
        w.WriteStartObject();
        w.WriteString("model", model);
        w.WriteString("alternative", alternative);
        w.WriteString("target", target);
        w.WriteString("provider", provider);
        w.WriteNumber("requests", requests);
        w.WriteNumber("errors", errors);
        w.WriteNumber("error_rate", requests == 0 ? 0 : Math.Round(errors / (double)requests, 4));
        Latency(w, "p50_ms", LatencyBuckets.Percentile(counts, 2, 0.50));
        Latency(w, "p99_ms", LatencyBuckets.Percentile(counts, 2, 0.99));
        w.WriteString("breaker", breaker);
        w.WriteEndObject();
    }

    private static void Latency(Utf8JsonWriter w, string name, double? ms)
    {
        if (ms is { } value)
        {
            w.WriteNumber(name, value);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    /// <summary>The worse of two breaker states as the contract names them (isolated reads as open).</summary>
    private static string Worst(string a, string b)
    {
        static int Rank(string s) => s switch { "open" or "isolated" => 2, "half_open" => 1, _ => 0 };
        static string Name(int rank) => rank switch { 2 => "open", 1 => "half_open", _ => "closed" };
        return Name(Math.Max(Rank(a), Rank(b)));
    }
}
