using System.Collections.Concurrent;
using RelayCluster.Core.Metering;

namespace RelayCluster.Core.Tenants;

/// <summary>
/// The embedded store's tenant grain: all state in this object, every turn under one lock, so turns
/// are atomic and serialized exactly as a single-writer grain's would be. Turns are short and never
/// await, which is why a lock rather than an async queue is the right tool here.
/// </summary>
internal sealed class MemoryTenantGrain(string tenantId, TenantLimits limits, TimeProvider time) : ITenantGrain
{
    private readonly Lock _turn = new();
    private readonly SlidingWindow _requests = new();
    private readonly SlidingWindow _tokens = new();
    private readonly Dictionary<string, Reservation> _reservations = new(StringComparer.Ordinal);
    private TenantLimits _limits = limits;
    private long _reservedNanos;
    private long _spentNanos;
    private string _month = Money.MonthOf(time.GetUtcNow());

    public ValueTask<Admission> AdmitAsync(AdmissionRequest request)
    {
        lock (_turn)
        {
            var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
            RollMonth();
            var refusal = FindRefusal(request, nowMs);
            if (refusal is { } refused)
            {
                return ValueTask.FromResult(refused);
            }

            var second = nowMs / 1000;
            _requests.Add(second, 1);
            _tokens.Add(second, request.EstimatedTokens);
            _reservedNanos += request.ReservedNanos;
            _reservations[request.RequestId] = new Reservation(second, request.EstimatedTokens, request.ReservedNanos);
            return ValueTask.FromResult(new Admission(AdmissionOutcome.Admitted, WindowState(nowMs), TimeSpan.Zero));
        }
    }

    public ValueTask<bool> SettleAsync(Settlement settlement)
    {
        lock (_turn)
        {
            if (!_reservations.Remove(settlement.RequestId, out var reservation))
            {
                return ValueTask.FromResult(false);
            }

            var nowSecond = time.GetUtcNow().ToUnixTimeSeconds();
            RollMonth();
            _tokens.Adjust(reservation.Second, nowSecond, settlement.ActualTokens - reservation.EstimatedTokens);
            _reservedNanos -= reservation.ReservedNanos;
            _spentNanos += settlement.CostNanos;
            return ValueTask.FromResult(true);
        }
    }

    public ValueTask<QuotaSnapshot> GetQuotaAsync()
    {
        lock (_turn)
        {
            var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
            RollMonth();
            return ValueTask.FromResult(new QuotaSnapshot(
                tenantId, _limits, _requests.Used(nowMs / 1000), _tokens.Used(nowMs / 1000),
                _reservations.Count, _reservedNanos, _spentNanos, _month, WindowState(nowMs)));
        }
    }

    public ValueTask SetLimitsAsync(TenantLimits limits)
    {
        lock (_turn)
        {
            _limits = limits;
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask RestoreSpentAsync(string month, long spentNanos)
    {
        lock (_turn)
        {
            RollMonth();
            if (month == _month)
            {
                _spentNanos = spentNanos;
            }
        }

        return ValueTask.CompletedTask;
    }

    private Admission? FindRefusal(AdmissionRequest request, long nowMs)
    {
        if (_limits.MaxConcurrent is { } maxConcurrent && _reservations.Count >= maxConcurrent)
        {
            // No completion time is known for a slot; one second is a polite, short wait.
            return Refuse(AdmissionOutcome.ConcurrencyExceeded, nowMs, TimeSpan.FromSeconds(1));
        }

        if (_limits.RequestsPerMinute is { } rpm)
        {
            var wait = _requests.TimeUntilFits(nowMs, 1, rpm);
            if (wait > TimeSpan.Zero)
            {
                return Refuse(AdmissionOutcome.RequestsPerMinuteExceeded, nowMs, wait);
            }
        }

        if (_limits.TokensPerMinute is { } tpm)
        {
            if (request.EstimatedTokens > tpm)
            {
                return Refuse(AdmissionOutcome.RequestLargerThanTokenLimit, nowMs, TimeSpan.Zero);
            }

            var wait = _tokens.TimeUntilFits(nowMs, request.EstimatedTokens, tpm);
            if (wait > TimeSpan.Zero)
            {
                return Refuse(AdmissionOutcome.TokensPerMinuteExceeded, nowMs, wait);
            }
        }

        if (_limits.MonthlyBudgetNanos is { } budget && _spentNanos + _reservedNanos + request.ReservedNanos > budget)
        {
            return Refuse(AdmissionOutcome.BudgetExceeded, nowMs, TimeSpan.Zero);
        }

        return null;
    }

    private Admission Refuse(AdmissionOutcome outcome, long nowMs, TimeSpan retryAfter) =>
        new(outcome, WindowState(nowMs), retryAfter);

    private RateLimitState WindowState(long nowMs)
    {
        var nowSecond = nowMs / 1000;
        return new RateLimitState(
            _limits.RequestsPerMinute, Remaining(_limits.RequestsPerMinute, _requests.Used(nowSecond)), _requests.TimeUntilEmpty(nowMs),
            _limits.TokensPerMinute, Remaining(_limits.TokensPerMinute, _tokens.Used(nowSecond)), _tokens.TimeUntilEmpty(nowMs));
    }

    private static long Remaining(int? limit, long used) => limit is { } l ? Math.Max(0, l - used) : long.MaxValue;

    private void RollMonth()
    {
        var month = Money.MonthOf(time.GetUtcNow());
        if (month != _month)
        {
            // Budgets are per calendar month (UTC). Open reservations stay: they settle into the new month.
            _month = month;
            _spentNanos = 0;
        }
    }

    private readonly record struct Reservation(long Second, long EstimatedTokens, long ReservedNanos);
}

/// <summary>Creates one memory grain per tenant on first use and keeps it for the life of the process.</summary>
public sealed class MemoryTenantGrainFactory(ITenantLimitsSource limits, TimeProvider time) : ITenantGrainFactory
{
    private readonly ConcurrentDictionary<string, MemoryTenantGrain> _grains = new(StringComparer.Ordinal);

    public ITenantGrain GetTenant(string tenantId) =>
        _grains.GetOrAdd(tenantId, id => new MemoryTenantGrain(id, limits.LimitsOf(id), time));
}

/// <summary>Where a newly activated grain reads its limits from (the tenant directory).</summary>
public interface ITenantLimitsSource
{
    TenantLimits LimitsOf(string tenantId);
}
