using System.Diagnostics;
using System.Globalization;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Bench.Tenant;

/// <summary>
/// One hot tenant: <c>concurrency</c> workers, each admitting a request and settling it as soon as the admission
/// returns, for a fixed time, on one tenant whose state already holds <c>open</c> reservations nobody settles. Every
/// turn is awaited as the relay awaits it (an acknowledged admission or settle is one the store says is durable), so
/// pairs per second is what one tenant can take. Checked after the run: every admission admitted, every settle booked
/// once, the tenant's spend equal to the settles' sum, and the open reservations still in flight.
/// </summary>
internal sealed class HotTenant(ITenantGrainFactory factory, int concurrency)
{
    /// <summary>What each settle books: the spend after a run must be this times the settles.</summary>
    public const long CostNanos = 1_000;

    public async Task<HotTenantResult> RunAsync(int open, TimeSpan warmup, TimeSpan duration, ProcessCpu cpu)
    {
        var tenantId = $"hot-{open}-{Guid.NewGuid():N}"[..24];
        var grain = factory.GetTenant(tenantId);
        await grain.SetLimitsAsync(TenantLimits.Unlimited);
        for (var i = 0; i < open; i++)
        {
            Check((await grain.AdmitAsync(new AdmissionRequest($"open-{i}", 10, CostNanos))).IsAdmitted, "an open reservation was refused");
        }

        var warm = await DriveAsync(grain, tenantId, "w", warmup);
        var before = cpu.Read();
        var start = Stopwatch.GetTimestamp();
        var measured = await DriveAsync(grain, tenantId, "m", duration);
        var elapsed = Stopwatch.GetElapsedTime(start);
        var used = ProcessCpu.Delta(before, cpu.Read());

        var quota = await grain.GetQuotaAsync();
        var settled = warm.Pairs + measured.Pairs;
        Check(quota.SpentNanos == settled * CostNanos, $"spent {quota.SpentNanos} nano-dollars, the settles booked {settled * CostNanos}");
        Check(quota.InFlight == open, $"{quota.InFlight} reservations open after the run, {open} left open on purpose");
        return new HotTenantResult(open, measured.Pairs, elapsed, measured.Latencies, used, quota.InFlight);
    }

    private async Task<(long Pairs, List<long> Latencies)> DriveAsync(ITenantGrain grain, string tenantId, string phase, TimeSpan duration)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var workers = Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
        {
            var latencies = new List<long>();
            for (var n = 0; Stopwatch.GetTimestamp() < deadline; n++)
            {
                var requestId = string.Create(CultureInfo.InvariantCulture, $"{phase}-{w}-{n}");
                var start = Stopwatch.GetTimestamp();
                Check((await grain.AdmitAsync(new AdmissionRequest(requestId, 10, CostNanos))).IsAdmitted, "a hot admission was refused");
                Check(await grain.SettleAsync(new Settlement(Record(tenantId, requestId))), "a settle was not booked");
                latencies.Add(Stopwatch.GetTimestamp() - start);
            }

            return latencies;
        })).ToList();
        var all = (await Task.WhenAll(workers)).SelectMany(l => l).ToList();
        return (all.Count, all);
    }

    private static UsageRecord Record(string tenantId, string requestId) => new()
    {
        TimestampMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        Tenant = tenantId,
        RequestId = requestId,
        Endpoint = "/v1/chat/completions",
        Model = "bench",
        UpstreamModel = "bench",
        Provider = "bench",
        Ending = "stop",
        Status = 200,
        PromptTokens = 5,
        CompletionTokens = 5,
        CostNanos = CostNanos,
    };

    private static void Check(bool condition, string failure)
    {
        if (!condition)
        {
            throw new InvalidOperationException(failure);
        }
    }
}

/// <summary>One run's figures: pairs in the measured window, each pair's admit + settle time (Stopwatch ticks), CPU by process.</summary>
internal sealed record HotTenantResult(int Open, long Pairs, TimeSpan Elapsed, List<long> Latencies, IReadOnlyList<(string Name, TimeSpan Cpu)> Cpu, int OpenAfter)
{
    public double PairsPerSecond => Pairs / Elapsed.TotalSeconds;

    public double Percentile(double p)
    {
        if (Latencies.Count == 0)
        {
            return double.NaN;
        }

        Latencies.Sort();
        var index = Math.Clamp((int)Math.Ceiling(p / 100 * Latencies.Count) - 1, 0, Latencies.Count - 1);
        return Latencies[index] * 1000.0 / Stopwatch.Frequency;
    }

    public double MicrosPerPair(string process) =>
        Pairs > 0 ? Cpu.FirstOrDefault(c => c.Name == process).Cpu.TotalMicroseconds / Pairs : double.NaN;
}
