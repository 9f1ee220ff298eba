using System.Text.Json;
using StackExchange.Redis;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Redis;

/// <summary>
/// A tenant grain whose every turn is one Lua script over the tenant's keys, all under the hash tag
/// <c>{t:id}</c>: atomic and single-writer across every silo, one round trip a turn. State is small
/// counters (limits, spend, one-second buckets, open reservations); the ledger is a capped stream plus
/// monthly totals, written by the same turn that books the cost.
/// </summary>
internal sealed class RedisTenantGrain(string tenantId, RedisConnection redis, RedisTenantScripts scripts, TenantStoreOptions options, TimeProvider time)
    : ITenantGrain
{
    internal const int LedgerLength = 100_000;

    public async ValueTask<Admission> AdmitAsync(AdmissionRequest request)
    {
        var result = (RedisResult[])(await TurnAsync(scripts.Admit, request.RequestId, request.EstimatedTokens, request.ReservedNanos,
            request.CapacityShare.ToString("R", System.Globalization.CultureInfo.InvariantCulture)))!;
        var outcome = (string)result[0]! switch
        {
            "admitted" => AdmissionOutcome.Admitted,
            "paused" => AdmissionOutcome.Paused,
            "concurrency" => AdmissionOutcome.ConcurrencyExceeded,
            "rpm" => AdmissionOutcome.RequestsPerMinuteExceeded,
            "too_large" => AdmissionOutcome.RequestLargerThanTokenLimit,
            "tpm" => AdmissionOutcome.TokensPerMinuteExceeded,
            "budget" => AdmissionOutcome.BudgetExceeded,
            "out_of_range" => AdmissionOutcome.ReservationOutOfRange,
            var other => throw new InvalidOperationException($"Unknown admission outcome '{other}'."),
        };
        return new Admission(outcome, Window(result, 2), TimeSpan.FromMilliseconds((long)result[1]));
    }

    public async ValueTask<bool> SettleAsync(Settlement settlement) =>
        (long)await TurnAsync(scripts.Settle, SettleArguments(settlement)) == 1;

    /// <summary>ARGV 4–14 of the settle turn (also booked inside a batch item's end).</summary>
    internal static RedisValue[] SettleArguments(Settlement settlement)
    {
        var record = settlement.Record;
        var json = JsonSerializer.Serialize(record, UsageJsonContext.Default.UsageRecord);
        return [settlement.RequestId, settlement.ActualTokens, settlement.CostNanos, json,
            record.Model, record.Ending, record.PromptTokens, record.CompletionTokens, record.Estimated ? 1 : 0, LedgerLength,
            settlement.Unreserved ? 1 : 0];
    }

    /// <summary>ARGV 1–3 of every tenant turn, and the keys of that month.</summary>
    internal static (RedisKey[] Keys, RedisValue[] Common) TurnFrame(string tenantId, TimeProvider time, TenantStoreOptions options)
    {
        var now = time.GetUtcNow();
        var month = Money.MonthOf(now);
        return (RedisTenantKeys.For(tenantId, month), [now.ToUnixTimeMilliseconds(), month, options.ReservationTtlMs]);
    }

    public async ValueTask<bool> ReleaseAsync(string requestId) => (long)await TurnAsync(scripts.Release, requestId) == 1;

    public async ValueTask<bool> RenewAsync(string requestId) => (long)await TurnAsync(scripts.Renew, requestId) == 1;

    public async ValueTask<QuotaSnapshot> GetQuotaAsync()
    {
        var r = (RedisResult[])(await TurnAsync(scripts.Quota))!;
        var limits = new TenantLimits(Limit(r[0]), Limit(r[1]), Limit(r[2]), (long)r[3] >= 0 ? (long)r[3] : null);
        var window = new RateLimitState(
            limits.RequestsPerMinute, Remaining(limits.RequestsPerMinute, (long)r[4]), TimeSpan.FromMilliseconds((long)r[5]),
            limits.TokensPerMinute, Remaining(limits.TokensPerMinute, (long)r[6]), TimeSpan.FromMilliseconds((long)r[7]));
        return new QuotaSnapshot(tenantId, limits, (long)r[4], (long)r[6], (int)(long)r[8], (long)r[9], (long)r[10], (string)r[11]!, window, (long)r[12] == 1);
    }

    public async ValueTask SetLimitsAsync(TenantLimits limits) => await ConfigureAsync("set",
        limits.RequestsPerMinute ?? 0, limits.TokensPerMinute ?? 0, limits.MaxConcurrent ?? 0, limits.MonthlyBudgetNanos ?? -1, 0);

    public async ValueTask<TenantLimits> UpdateLimitsAsync(TenantLimitsPatch patch) => await ConfigureAsync("update",
        Arg(patch.RequestsPerMinute, 0), Arg(patch.TokensPerMinute, 0), Arg(patch.MaxConcurrent, 0),
        patch.MonthlyBudgetNanos.IsSet ? patch.MonthlyBudgetNanos.Value ?? -1 : "keep", 0);

    public async ValueTask SetPausedAsync(bool paused) => await ConfigureAsync("pause", 0, 0, 0, -1, paused ? 1 : 0);

    private async Task<TenantLimits> ConfigureAsync(string mode, RedisValue rpm, RedisValue tpm, RedisValue maxConcurrent, RedisValue budget, int paused)
    {
        var r = (RedisResult[])(await TurnAsync(scripts.Configure, mode, rpm, tpm, maxConcurrent, budget, paused))!;
        return new TenantLimits(Limit(r[0]), Limit(r[1]), Limit(r[2]), (long)r[3] >= 0 ? (long)r[3] : null);
    }

    private static RedisValue Arg(Change<int?> change, int unlimited) => change.IsSet ? change.Value ?? unlimited : "keep";

    /// <summary>One turn: the keys of this month (the usage totals are per month), the clock, then the turn's arguments.</summary>
    private Task<RedisResult> TurnAsync(RedisScript script, params RedisValue[] args)
    {
        var (keys, common) = TurnFrame(tenantId, time, options);
        return redis.EvaluateAsync(script, keys, [.. common, .. args]);
    }

    private static RateLimitState Window(RedisResult[] r, int offset)
    {
        var rpm = Limit(r[offset]);
        var tpm = Limit(r[offset + 3]);
        return new RateLimitState(
            rpm, Remaining(rpm, (long)r[offset + 1]), TimeSpan.FromMilliseconds((long)r[offset + 2]),
            tpm, Remaining(tpm, (long)r[offset + 4]), TimeSpan.FromMilliseconds((long)r[offset + 5]));
    }

    private static int? Limit(RedisResult value) => (long)value > 0 ? (int)(long)value : null;

    private static long Remaining(int? limit, long used) => limit is { } l ? Math.Max(0, l - used) : long.MaxValue;
}

/// <summary>The keys of one tenant's state; every one carries the tenant's hash tag.</summary>
internal static class RedisTenantKeys
{
    public static RedisKey[] For(string tenantId, string month)
    {
        var tag = "{t:" + tenantId + "}";
        return
        [
            tag + ":state", tag + ":rq", tag + ":tk", tag + ":res", tag + ":dl", tag + ":rc", tag + ":rct", tag + ":ledger",
            tag + ":usage:" + month,
        ];
    }

    public static RedisKey Usage(string tenantId, string month) => "{t:" + tenantId + "}:usage:" + month;
}

/// <summary>The tenant turns, loaded once per process.</summary>
internal sealed class RedisTenantScripts
{
    public RedisScript Admit { get; } = RedisScript.TenantTurn("admit");

    public RedisScript Settle { get; } = RedisScript.TenantTurn("settle");

    public RedisScript Renew { get; } = RedisScript.TenantTurn("renew");

    public RedisScript Release { get; } = RedisScript.TenantTurn("release");

    public RedisScript Quota { get; } = RedisScript.TenantTurn("quota");

    public RedisScript Configure { get; } = RedisScript.TenantTurn("configure");
}
