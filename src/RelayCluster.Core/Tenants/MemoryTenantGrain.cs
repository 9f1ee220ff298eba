using System.Collections.Concurrent;
using RelayCluster.Core.Metering;

namespace RelayCluster.Core.Tenants;

/// <summary>
/// The embedded store's tenant grain: all state in this object, every turn under one lock, so turns
/// are atomic and serialized exactly as a single-writer grain's would be. Turns are short and never
/// await, which is why a lock rather than an async queue is the right tool here. Behaves as the Redis
/// grain does; one contract test suite runs against both.
/// </summary>
internal sealed partial class MemoryTenantGrain(
    string tenantId, long spentNanos, IUsageLedger ledger, TenantStoreOptions options, TimeProvider time) : ITenantGrain
{
    private readonly Lock _turn = new();
    private readonly SlidingWindow _requests = new();
    private readonly SlidingWindow _tokens = new();
    private readonly Dictionary<string, Reservation> _reservations = new(StringComparer.Ordinal);
    private readonly PriorityQueue<string, long> _deadlines = new();
    private readonly Dictionary<string, Reservation> _reclaimed = new(StringComparer.Ordinal);
    private TenantLimits _limits = TenantLimits.Unlimited; // set by the creating turn before any key works
    private bool _paused;
    private long _reservedNanos;
    private long _spentNanos = spentNanos;
    private string _month = Money.MonthOf(time.GetUtcNow());

    public ValueTask<Admission> AdmitAsync(AdmissionRequest request)
    {
        lock (_turn)
        {
            var nowMs = BeginTurn();
            var refusal = FindRefusal(request, nowMs);
            if (refusal is { } refused)
            {
                return ValueTask.FromResult(refused);
            }

            var second = nowMs / 1000;
            _requests.Add(second, 1);
            _tokens.Add(second, request.EstimatedTokens);
            _reservedNanos += request.ReservedNanos;
            var deadline = nowMs + options.ReservationTtlMs;
            _reservations[request.RequestId] = new Reservation(second, request.EstimatedTokens, request.ReservedNanos, deadline);
            _deadlines.Enqueue(request.RequestId, deadline);
            return ValueTask.FromResult(new Admission(AdmissionOutcome.Admitted, WindowState(nowMs), TimeSpan.Zero));
        }
    }

    public ValueTask<bool> SettleAsync(Settlement settlement)
    {
        lock (_turn)
        {
            var nowMs = BeginTurn();
            if (_reservations.Remove(settlement.RequestId, out var reservation))
            {
                _reservedNanos -= reservation.ReservedNanos;
            }
            else if (!_reclaimed.Remove(settlement.RequestId, out reservation))
            {
                if (!settlement.Unreserved)
                {
                    return ValueTask.FromResult(false);
                }

                reservation = new Reservation(nowMs / 1000, settlement.ActualTokens, 0, nowMs);
            }

            _tokens.Adjust(reservation.Second, nowMs / 1000, settlement.ActualTokens - reservation.EstimatedTokens);
            _spentNanos = Saturating.Add(_spentNanos, settlement.CostNanos);
            ledger.Append(settlement.Record);
            return ValueTask.FromResult(true);
        }
    }

    public ValueTask<bool> ReleaseAsync(string requestId)
    {
        lock (_turn)
        {
            var nowMs = BeginTurn();
            if (!_reservations.Remove(requestId, out var reservation))
            {
                return ValueTask.FromResult(false);
            }

            _reservedNanos -= reservation.ReservedNanos;
            _tokens.Adjust(reservation.Second, nowMs / 1000, -reservation.EstimatedTokens);
            return ValueTask.FromResult(true);
        }
    }

    public ValueTask<bool> RenewAsync(string requestId)
    {
        lock (_turn)
        {
            var nowMs = BeginTurn();
            if (!_reservations.TryGetValue(requestId, out var reservation))
            {
                return ValueTask.FromResult(false);
            }

            var deadline = nowMs + options.ReservationTtlMs;
            _reservations[requestId] = reservation with { DeadlineMs = deadline };
            _deadlines.Enqueue(requestId, deadline);
            return ValueTask.FromResult(true);
        }
    }

    public ValueTask<QuotaSnapshot> GetQuotaAsync()
    {
        lock (_turn)
        {
            var nowMs = BeginTurn();
            return ValueTask.FromResult(new QuotaSnapshot(
                tenantId, _limits, _requests.Used(nowMs / 1000), _tokens.Used(nowMs / 1000),
                _reservations.Count, _reservedNanos, _spentNanos, _month, WindowState(nowMs), _paused));
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

    public ValueTask<TenantLimits> UpdateLimitsAsync(TenantLimitsPatch patch)
    {
        lock (_turn)
        {
            _limits = _limits.With(patch);
            return ValueTask.FromResult(_limits);
        }
    }

    public ValueTask SetPausedAsync(bool paused)
    {
        lock (_turn)
        {
            _paused = paused;
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Every turn first rolls the budget month and reclaims reservations whose deadline passed.</summary>
    private long BeginTurn()
    {
        var now = time.GetUtcNow();
        var month = Money.MonthOf(now);
        if (month != _month)
        {
            // Budgets are per calendar month (UTC). Open reservations stay: they settle into the new month.
            _month = month;
            _spentNanos = 0;
        }

        var nowMs = now.ToUnixTimeMilliseconds();
        while (_deadlines.TryPeek(out var requestId, out var deadline) && deadline <= nowMs)
        {
            _deadlines.Dequeue();

            // A renewed reservation leaves its older deadline in the queue: only the current one counts.
            if (_reservations.TryGetValue(requestId, out var reservation) && reservation.DeadlineMs == deadline)
            {
                _reservations.Remove(requestId);
                _reservedNanos -= reservation.ReservedNanos;
                _reclaimed[requestId] = reservation;
            }
        }

        return nowMs;
    }

    private Admission? FindRefusal(AdmissionRequest request, long nowMs)
    {
        if (!ReservationLimits.Admits(request))
        {
            return Refuse(AdmissionOutcome.ReservationOutOfRange, nowMs, TimeSpan.Zero);
        }

        if (_paused)
        {
            return Refuse(AdmissionOutcome.Paused, nowMs, TimeSpan.Zero);
        }

        if (_limits.MaxConcurrent is { } maxConcurrent && _reservations.Count >= request.Share(maxConcurrent))
        {
            // No completion time is known for a slot; one second is a polite, short wait.
            return Refuse(AdmissionOutcome.ConcurrencyExceeded, nowMs, TimeSpan.FromSeconds(1));
        }

        if (_limits.RequestsPerMinute is { } rpm)
        {
            var wait = _requests.TimeUntilFits(nowMs, 1, request.Share(rpm));
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

            var wait = _tokens.TimeUntilFits(nowMs, request.EstimatedTokens, request.Share(tpm));
            if (wait > TimeSpan.Zero)
            {
                return Refuse(AdmissionOutcome.TokensPerMinuteExceeded, nowMs, wait);
            }
        }

        // A call that cannot cost anything (reading files, a batch's state, a stream token) puts no money at risk, so
        // an exhausted budget does not lock a tenant out of its own outputs.
        if (_limits.MonthlyBudgetNanos is { } budget && request.ReservedNanos > 0
            && Saturating.Add(Saturating.Add(_spentNanos, _reservedNanos), request.ReservedNanos) > budget)
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

    private readonly record struct Reservation(long Second, long EstimatedTokens, long ReservedNanos, long DeadlineMs);
}

/// <summary>
/// Creates one memory grain per tenant on first use and keeps it for the life of the process. A new grain
/// starts from the month's spend in the usage log, which is how a restart loses no spend.
/// </summary>
public sealed partial class MemoryTenantGrainFactory(IUsageLedger ledger, TenantStoreOptions options, TimeProvider time)
    : ITenantGrainFactory
{
    private readonly ConcurrentDictionary<string, MemoryTenantGrain> _grains = new(StringComparer.Ordinal);

    public ITenantGrain GetTenant(string tenantId) => _grains.GetOrAdd(tenantId, id => Activate(id, _incarnationOf(id)));
}

/// <summary>Settings every tenant store shares.</summary>
public sealed record TenantStoreOptions(long ReservationTtlMs)
{
    public static TenantStoreOptions Default { get; } = new(120_000);
}
