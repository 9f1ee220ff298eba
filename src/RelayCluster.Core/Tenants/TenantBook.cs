using RelayCluster.Core.Metering;

namespace RelayCluster.Core.Tenants;

/// <summary>
/// One tenant's rate-limit windows, concurrency slots and budget, and every turn over them, written once: the tenant
/// grain runs these turns and commits what they change. Pure and synchronous (no I/O, no clock of its own, not
/// thread-safe: the grain serializes turns), so a turn decides before anything is awaited. Each change a turn makes is
/// also recorded in <see cref="Changes"/>, which <see cref="TakeChanges"/> hands to a journal as one commit.
/// Refusals change nothing but the housekeeping every turn does first (month roll, reclaiming expired reservations).
/// </summary>
public sealed partial class TenantBook
{
    /// <summary>How long a reclaimed reservation is remembered for a late settle.</summary>
    public const long KeepReclaimedMs = 86_400_000;

    private readonly string _tenantId;
    private readonly TenantStoreOptions _options;
    private readonly SlidingWindow _requests = new();
    private readonly SlidingWindow _tokens = new();
    private readonly Dictionary<string, ReservationEntry> _reservations = new(StringComparer.Ordinal);
    private readonly PriorityQueue<string, long> _deadlines = new();
    private readonly Dictionary<string, ReclaimedEntry> _reclaimed = new(StringComparer.Ordinal);
    private readonly PriorityQueue<string, long> _reclaimedAt = new();
    private TenantLimits _limits = TenantLimits.Unlimited;
    private bool _paused;
    private string _month;
    private long _spentNanos;
    private long _reservedNanos;
    private string _incarnation = "";
    private TenantChanges _changes = new();
    private TenantChanges? _spare;

    /// <summary>A book restored from what a journal loaded; buckets that slid out while nobody held it are dropped in the first commit.</summary>
    public TenantBook(string tenantId, TenantImage image, TenantStoreOptions options, long nowMs)
    {
        _tenantId = tenantId;
        _options = options;
        _month = Money.MonthOf(DateTimeOffset.FromUnixTimeMilliseconds(nowMs));
        if (image.State is { } state)
        {
            (_limits, _paused, _month, _spentNanos, _incarnation, _pausedByThreshold) = state;
        }

        _crossings = image.Crossings.Count == 0 ? image.Crossings : BudgetCrossingJson.Readable(image.Crossings);
        _pendingDeliveries = _crossings.Count(c => c.Delivery.IsPending);
        RollThresholds(); // the embedded journal loads a restarted tenant in the current month: a threshold pause of an older one ends

        var nowSecond = nowMs / 1000;
        Restore(_requests, image.Requests, nowSecond, _changes.RequestsDropped);
        Restore(_tokens, image.Tokens, nowSecond, _changes.TokensDropped);
        foreach (var (id, reservation) in image.Reservations)
        {
            _reservations[id] = reservation;
            _reservedNanos = Saturating.Add(_reservedNanos, reservation.ReservedNanos);
            _deadlines.Enqueue(id, reservation.DeadlineMs);
        }

        foreach (var (id, reclaimed) in image.Reclaimed)
        {
            _reclaimed[id] = reclaimed;
            _reclaimedAt.Enqueue(id, reclaimed.ReclaimedAtMs);
        }
    }

    /// <summary>The incarnation of the tenant id this state belongs to ("" for tenants older than incarnations).</summary>
    public string Incarnation => _incarnation;

    /// <summary>What turns changed since the last <see cref="TakeChanges"/>.</summary>
    public TenantChanges Changes => _changes;

    /// <summary>
    /// Hands over everything changed so far, as one commit, and starts recording afresh. The changes handed over stay
    /// valid until the next call, which records into them again (two sets take turns, so a commit allocates no new
    /// collections): a grain commits one at a time and takes the next changes only once the last commit is over.
    /// </summary>
    public TenantChanges TakeChanges()
    {
        var taken = _changes;
        _changes = _spare ?? new TenantChanges();
        _changes.Clear();
        _spare = taken;
        return taken;
    }

    /// <summary>
    /// Checks paused, concurrency, RPM, TPM and budget in that order; admits by counting the request in both windows and
    /// holding its worst-case cost and a slot until settle, release or reclaim. A request id already holding a reservation
    /// is admitted again without counting twice (a caller retrying after an unknown outcome).
    /// </summary>
    /// <param name="silo">The silo whose request this is: its reservations are reclaimed when that silo is declared dead.</param>
    public Admission Admit(AdmissionRequest request, string silo, long nowMs)
    {
        BeginTurn(nowMs);
        if (request.RequestId is not null && _reservations.ContainsKey(request.RequestId))
        {
            return new Admission(AdmissionOutcome.Admitted, WindowState(nowMs), TimeSpan.Zero);
        }

        if (FindRefusal(request, nowMs) is { } refused)
        {
            return refused;
        }

        var second = nowMs / 1000;
        AddToWindow(_requests, _changes.Requests, _changes.RequestsDropped, second, 1);
        AddToWindow(_tokens, _changes.Tokens, _changes.TokensDropped, second, request.EstimatedTokens);
        _reservedNanos = Saturating.Add(_reservedNanos, request.ReservedNanos);
        var reservation = new ReservationEntry(second, request.EstimatedTokens, request.ReservedNanos, nowMs + _options.ReservationTtlMs, silo);
        _reservations[request.RequestId!] = reservation;
        _changes.Reservations[request.RequestId!] = reservation;
        if (_reclaimed.Remove(request.RequestId!))
        {
            // Admitted again after its reservation was reclaimed: the new reservation is the one a settle books, once.
            _changes.Reclaimed[request.RequestId!] = null;
        }

        _deadlines.Enqueue(request.RequestId!, reservation.DeadlineMs);
        return new Admission(AdmissionOutcome.Admitted, WindowState(nowMs), TimeSpan.Zero);
    }

    /// <summary>
    /// The refusal any admission of this capacity share would get now (paused; concurrency, request window or budget
    /// full), with the exact wait, or null. Changes nothing: a request that passes is still admitted by <see cref="Admit"/>.
    /// </summary>
    public Admission? Precheck(double capacityShare, long nowMs)
    {
        BeginTurn(nowMs);

        // The least any admission asks: one request, no tokens, one nano-dollar (every priced call reserves something).
        return FindRefusal(new AdmissionRequest("precheck", 0, 1, capacityShare), nowMs);
    }

    /// <summary>
    /// Books actual usage with its record, replaces the admission's token estimate by the actual tokens, and frees the
    /// hold and slot. A reclaimed reservation is still booked, once; an unreserved settlement (served fail-open) is booked
    /// and its tokens counted now. False, with nothing booked, if the request was settled already or never admitted.
    /// </summary>
    public bool Settle(Settlement settlement, long nowMs)
    {
        BeginTurn(nowMs);
        var nowSecond = nowMs / 1000;
        var requestId = settlement.RequestId;
        if (_reservations.Remove(requestId, out var held))
        {
            _reservedNanos -= held.ReservedNanos;
            _changes.Reservations[requestId] = null;
            AdjustWindow(_tokens, _changes.Tokens, held.Second, nowSecond, settlement.ActualTokens - held.EstimatedTokens);
        }
        else if (_reclaimed.Remove(requestId, out var reclaimed))
        {
            _changes.Reclaimed[requestId] = null;
            AdjustWindow(_tokens, _changes.Tokens, reclaimed.Second, nowSecond, settlement.ActualTokens - reclaimed.EstimatedTokens);
        }
        else if (settlement.Unreserved)
        {
            AddToWindow(_tokens, _changes.Tokens, _changes.TokensDropped, nowSecond, settlement.ActualTokens);
        }
        else
        {
            return false;
        }

        if (settlement.CostNanos != 0)
        {
            _spentNanos = Saturating.Add(_spentNanos, settlement.CostNanos);
            MarkSpend();
        }

        CheckThresholds(nowMs, rearm: false);
        var record = _incarnation.Length == 0 ? settlement.Record : settlement.Record with { Incarnation = _incarnation };
        _changes.Ledger.Add(new LedgerEntry(_month, record));
        return true;
    }

    /// <summary>Frees a reservation without booking anything, taking its token estimate back out of the window.</summary>
    public bool Release(string requestId, long nowMs)
    {
        BeginTurn(nowMs);
        if (!_reservations.Remove(requestId, out var held))
        {
            return false;
        }

        _reservedNanos -= held.ReservedNanos;
        _changes.Reservations[requestId] = null;
        AdjustWindow(_tokens, _changes.Tokens, held.Second, nowMs / 1000, -held.EstimatedTokens);
        return true;
    }

    /// <summary>Pushes a live reservation's deadline to a full lifetime from now. False if it is not held (settled or reclaimed).</summary>
    public bool Renew(string requestId, long nowMs)
    {
        BeginTurn(nowMs);
        if (!_reservations.TryGetValue(requestId, out var held))
        {
            return false;
        }

        var renewed = held with { DeadlineMs = nowMs + _options.ReservationTtlMs };
        _reservations[requestId] = renewed;
        _changes.Reservations[requestId] = renewed;
        _deadlines.Enqueue(requestId, renewed.DeadlineMs);
        return true;
    }

    /// <summary>
    /// Reclaims every reservation held for a silo the cluster declared dead: its requests died with it, so their holds
    /// and slots are freed now instead of at their deadline; a late settle is still booked once. Returns how many.
    /// </summary>
    public int ReclaimSilos(IReadOnlySet<string> deadSilos, long nowMs)
    {
        BeginTurn(nowMs);
        var dead = _reservations.Where(r => r.Value.Silo.Length > 0 && deadSilos.Contains(r.Value.Silo)).Select(r => r.Key).ToList();
        foreach (var requestId in dead)
        {
            Reclaim(requestId, nowMs);
        }

        return dead.Count;
    }

    public QuotaSnapshot Quota(long nowMs)
    {
        BeginTurn(nowMs);
        var nowSecond = nowMs / 1000;
        return new QuotaSnapshot(
            _tenantId, _limits, _requests.Used(nowSecond), _tokens.Used(nowSecond), _reservations.Count, _reservedNanos, _spentNanos,
            _month, WindowState(nowMs), _paused);
    }

    /// <summary>Replaces the limits; windows, slots and spend carry over. Budget thresholds are crossed or re-armed by the new limits.</summary>
    public void SetLimits(TenantLimits limits, long nowMs)
    {
        BeginTurn(nowMs);
        _limits = InRange(limits);
        MarkState();
        CheckThresholds(nowMs, rearm: true);
    }

    /// <summary>Changes only what the patch sets and returns the limits in force after it (thresholds crossed or re-armed as by <see cref="SetLimits"/>).</summary>
    public TenantLimits UpdateLimits(TenantLimitsPatch patch, long nowMs)
    {
        BeginTurn(nowMs);
        _limits = InRange(_limits.With(patch));
        MarkState();
        CheckThresholds(nowMs, rearm: true);
        return _limits;
    }

    /// <summary>
    /// Limits as every journal stores and reloads them, whatever a caller passed: a count of 0 or less is no limit (as in
    /// the configuration file), a negative budget is none left (never unlimited). Otherwise the Redis journal, which
    /// writes 0 for "no limit", would reload other limits than the activation that committed them enforced.
    /// </summary>
    /// <remarks>A threshold outside [0, 1] (or NaN) is the default; an empty webhook URL is none.</remarks>
    private static TenantLimits InRange(TenantLimits limits) =>
        limits is { RequestsPerMinute: null or > 0, TokensPerMinute: null or > 0, MaxConcurrent: null or > 0, MonthlyBudgetNanos: null or >= 0 }
            && TenantLimits.IsThreshold(limits.AlertThreshold) && TenantLimits.IsThreshold(limits.PauseThreshold) && limits.AlertWebhookUrl is null or { Length: > 0 }
            ? limits
            : new TenantLimits(
                limits.RequestsPerMinute is > 0 ? limits.RequestsPerMinute : null, limits.TokensPerMinute is > 0 ? limits.TokensPerMinute : null,
                limits.MaxConcurrent is > 0 ? limits.MaxConcurrent : null, limits.MonthlyBudgetNanos is < 0 ? 0 : limits.MonthlyBudgetNanos,
                TenantLimits.IsThreshold(limits.AlertThreshold) ? limits.AlertThreshold : null,
                TenantLimits.IsThreshold(limits.PauseThreshold) ? limits.PauseThreshold : null,
                string.IsNullOrEmpty(limits.AlertWebhookUrl) ? null : limits.AlertWebhookUrl);

    /// <summary>An admin's pause or resume. A pause is the admin's (a new month does not lift it); a resume also lifts a threshold pause.</summary>
    public void SetPaused(bool paused)
    {
        _paused = paused;
        _pausedByThreshold = false;
        MarkState();
    }

    /// <summary>
    /// Makes this the state of a new incarnation of the tenant id: everything of the old one goes (windows, reservations,
    /// reclaimed entries, limits, pause) and spend starts at <paramref name="spentNanos"/> (what the usage log already
    /// holds for that incarnation: 0 for a new tenant).
    /// </summary>
    public void BeginIncarnation(string incarnation, long spentNanos, long nowMs)
    {
        _changes.Requests.Clear();
        _changes.Tokens.Clear();
        _changes.RequestsDropped.UnionWith(_requests.Clear());
        _changes.TokensDropped.UnionWith(_tokens.Clear());
        foreach (var id in _reservations.Keys)
        {
            _changes.Reservations[id] = null;
        }

        foreach (var id in _reclaimed.Keys)
        {
            _changes.Reclaimed[id] = null;
        }

        _reservations.Clear();
        _deadlines.Clear();
        _reclaimed.Clear();
        _reclaimedAt.Clear();
        _reservedNanos = 0;
        _limits = TenantLimits.Unlimited;
        _paused = false;
        _pausedByThreshold = false;
        if (_crossings.Count > 0)
        {
            SetCrossings([]); // the old incarnation's alerts and their undelivered webhooks go with it
        }

        _month = Money.MonthOf(DateTimeOffset.FromUnixTimeMilliseconds(nowMs));
        _spentNanos = spentNanos;
        _incarnation = incarnation;
        MarkState();
    }

    /// <summary>The state as a journal would load it back (the embedded journal's first copy; tests compare reloads with it).</summary>
    public TenantImage ToImage(long nowMs)
    {
        var image = new TenantImage { State = Scalars, Crossings = _crossings };
        foreach (var (second, amount) in _requests.Buckets(nowMs / 1000))
        {
            image.Requests[second] = amount;
        }

        foreach (var (second, amount) in _tokens.Buckets(nowMs / 1000))
        {
            image.Tokens[second] = amount;
        }

        foreach (var (id, reservation) in _reservations)
        {
            image.Reservations[id] = reservation;
        }

        foreach (var (id, reclaimed) in _reclaimed)
        {
            image.Reclaimed[id] = reclaimed;
        }

        return image;
    }

    private TenantScalars Scalars => new(_limits, _paused, _month, _spentNanos, _incarnation, _pausedByThreshold);

    /// <summary>Something beyond the month's spend changed (limits, pause, incarnation, month): the commit writes every single value.</summary>
    private void MarkState()
    {
        _changes.State = Scalars;
        _changes.Spend = null;
    }

    /// <summary>
    /// Only the spend changed (a settle that cost something): the commit writes the month and its spend, not the ten values
    /// that stayed put (a settle is the hot path's most frequent commit). Folded into a full state already marked.
    /// </summary>
    private void MarkSpend()
    {
        if (_changes.State is not null)
        {
            _changes.State = Scalars;
        }
        else
        {
            _changes.Spend = new TenantSpend(_month, _spentNanos);
        }
    }

    /// <summary>Every turn first rolls the budget month and reclaims reservations whose deadline passed.</summary>
    private void BeginTurn(long nowMs)
    {
        var month = Money.MonthOf(DateTimeOffset.FromUnixTimeMilliseconds(nowMs));
        if (month != _month)
        {
            // Budgets are per calendar month (UTC). Open reservations stay: they settle into the new month.
            _month = month;
            _spentNanos = 0;
            MarkState();
            RollThresholds();
        }

        while (_deadlines.TryPeek(out var requestId, out var deadline) && deadline <= nowMs)
        {
            _deadlines.Dequeue();

            // A renewed reservation leaves its older deadline in the queue: only the current one counts.
            if (_reservations.TryGetValue(requestId, out var held) && held.DeadlineMs == deadline)
            {
                Reclaim(requestId, nowMs);
            }
        }

        while (_reclaimedAt.TryPeek(out var requestId, out var at) && at <= nowMs - KeepReclaimedMs)
        {
            _reclaimedAt.Dequeue();
            if (_reclaimed.TryGetValue(requestId, out var reclaimed) && reclaimed.ReclaimedAtMs == at)
            {
                _reclaimed.Remove(requestId);
                _changes.Reclaimed[requestId] = null;
            }
        }
    }

    private void Reclaim(string requestId, long nowMs)
    {
        var held = _reservations[requestId];
        _reservations.Remove(requestId);
        _reservedNanos -= held.ReservedNanos;
        _changes.Reservations[requestId] = null;
        var reclaimed = new ReclaimedEntry(held.Second, held.EstimatedTokens, held.ReservedNanos, nowMs);
        _reclaimed[requestId] = reclaimed;
        _reclaimedAt.Enqueue(requestId, nowMs);
        _changes.Reclaimed[requestId] = reclaimed;
    }

    private Admission? FindRefusal(AdmissionRequest request, long nowMs)
    {
        if (!ReservationLimits.Admits(request))
        {
            return Refuse(AdmissionOutcome.ReservationOutOfRange, nowMs, TimeSpan.Zero);
        }

        // A pause threshold's pause protects the budget, so (as a spent budget below) it lets a call that costs nothing
        // through: reading a batch's output or cancelling it. An administrator's pause stops everything.
        if (_paused && (!_pausedByThreshold || request.ReservedNanos > 0))
        {
            return Refuse(AdmissionOutcome.Paused, nowMs, TimeSpan.Zero) with { Pause = PauseCause() };
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

    private Admission Refuse(AdmissionOutcome outcome, long nowMs, TimeSpan retryAfter) => new(outcome, WindowState(nowMs), retryAfter);

    private RateLimitState WindowState(long nowMs)
    {
        var nowSecond = nowMs / 1000;
        return new RateLimitState(
            _limits.RequestsPerMinute, Remaining(_limits.RequestsPerMinute, _requests.Used(nowSecond)), _requests.TimeUntilEmpty(nowMs),
            _limits.TokensPerMinute, Remaining(_limits.TokensPerMinute, _tokens.Used(nowSecond)), _tokens.TimeUntilEmpty(nowMs));
    }

    private static long Remaining(int? limit, long used) => limit is { } l ? Math.Max(0, l - used) : long.MaxValue;

    private static void AddToWindow(SlidingWindow window, Dictionary<long, long> set, HashSet<long> dropped, long second, long amount)
    {
        set[second] = window.Add(second, amount, out var evicted);
        dropped.Remove(second);
        if (evicted is { } old)
        {
            set.Remove(old);
            dropped.Add(old);
        }
    }

    private static void AdjustWindow(SlidingWindow window, Dictionary<long, long> set, long bucketSecond, long nowSecond, long delta)
    {
        if (window.Adjust(bucketSecond, nowSecond, delta) is { } amount)
        {
            set[bucketSecond] = amount;
        }
    }

    private static void Restore(SlidingWindow window, Dictionary<long, long> stored, long nowSecond, HashSet<long> dropped)
    {
        foreach (var (second, amount) in stored.OrderBy(b => b.Key))
        {
            window.Load(second, amount, nowSecond);
        }

        // Whatever the window did not keep (slid out, or its slot taken by a newer second) storage may drop.
        foreach (var second in stored.Keys.Where(s => !window.Holds(s)))
        {
            dropped.Add(second);
        }
    }
}
