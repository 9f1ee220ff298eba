namespace RelayCluster.Core.Tenants;

/// <summary>
/// Budget thresholds. One rule, checked in every turn that changes spend or limits (a settle; an admin's limits): while a
/// budget above zero is set, a threshold above zero is crossed when the month's spend reaches threshold × budget. Its
/// first crossing in a month is recorded (with its webhook in the outbox) and committed with the turn, fenced by the
/// epoch like everything else, so it happens once per threshold, tenant and month whatever the store, silo or restart.
/// Crossing the pause threshold pauses the tenant, marked as the threshold's pause. An admin change that puts spend below
/// a crossed threshold again re-arms it (the next crossing alerts again, with the next sequence) and lifts a threshold
/// pause; so does a new month. An admin's own pause is lifted only by an admin's resume, which also lifts a threshold pause.
/// </summary>
public sealed partial class TenantBook
{
    private IReadOnlyList<BudgetCrossing> _crossings = [];
    private bool _pausedByThreshold;
    private int _pendingDeliveries;
    private TenantLimits? _thresholdsOf;
    private long _alertAtNanos = long.MaxValue;
    private long _pauseAtNanos = long.MaxValue;

    /// <summary>The limits in force (thresholds unresolved: null takes the relay's default).</summary>
    public TenantLimits Limits => _limits;

    /// <summary>Every crossing kept: this month's, and an older month's whose webhook is still pending.</summary>
    public IReadOnlyList<BudgetCrossing> Crossings => _crossings;

    /// <summary>How many crossings still wait for their webhook (0 on the hot path: a settle checks this and nothing more).</summary>
    public int PendingDeliveries => _pendingDeliveries;

    /// <summary>The alert threshold in force: the tenant's, or the relay's default.</summary>
    public double AlertThreshold => _limits.AlertThreshold ?? _options.AlertThreshold;

    /// <summary>The pause threshold in force: the tenant's, or the relay's default.</summary>
    public double PauseThreshold => _limits.PauseThreshold ?? _options.PauseThreshold;

    /// <summary>The thresholds, pause and crossings as admins read them.</summary>
    public BudgetAlerts Alerts(long nowMs)
    {
        BeginTurn(nowMs);
        return new BudgetAlerts(
            AlertThreshold, PauseThreshold, _limits.AlertThreshold is null, _limits.PauseThreshold is null, _limits.AlertWebhookUrl,
            _paused, _pausedByThreshold, _month, _spentNanos, _limits.MonthlyBudgetNanos, _crossings);
    }

    /// <summary>
    /// Replaces a pending crossing's delivery with the outcome of an attempt. False (nothing changes) if that crossing is
    /// gone (a new incarnation) or no longer pending (another activation recorded it first).
    /// </summary>
    public bool RecordDelivery(BudgetCrossing crossing, AlertDelivery delivery)
    {
        for (var i = 0; i < _crossings.Count; i++)
        {
            if (_crossings[i].SameAs(crossing) && _crossings[i].Delivery.IsPending)
            {
                var updated = _crossings.ToArray();
                updated[i] = _crossings[i] with { Delivery = delivery };
                SetCrossings(updated);
                return true;
            }
        }

        return false;
    }

    /// <summary>Crosses or re-arms each threshold by the rule above; <paramref name="rearm"/> only in an admin's turn (spend never falls in a settle).</summary>
    private void CheckThresholds(long nowMs, bool rearm)
    {
        if (!ReferenceEquals(_thresholdsOf, _limits))
        {
            // Limits change rarely (an admin's turn): the spend each threshold is crossed at is computed then, not per settle.
            _thresholdsOf = _limits;
            var budget = _limits.MonthlyBudgetNanos ?? 0;
            _alertAtNanos = CrossedAt(AlertThreshold, budget);
            _pauseAtNanos = CrossedAt(PauseThreshold, budget);
        }

        if (!rearm && _spentNanos < _alertAtNanos && _spentNanos < _pauseAtNanos)
        {
            return; // a settle below both: one comparison
        }

        CheckThreshold(BudgetCrossing.Alert, AlertThreshold, _alertAtNanos, nowMs, rearm);
        CheckThreshold(BudgetCrossing.Pause, PauseThreshold, _pauseAtNanos, nowMs, rearm);
    }

    private void CheckThreshold(string kind, double threshold, long crossedAtNanos, long nowMs, bool rearm)
    {
        var budget = _limits.MonthlyBudgetNanos ?? 0;
        var crossed = _spentNanos >= crossedAtNanos;
        var active = -1;
        var sequence = 0;
        for (var i = 0; i < _crossings.Count; i++)
        {
            if (_crossings[i].Kind == kind && _crossings[i].Month == _month)
            {
                sequence = Math.Max(sequence, _crossings[i].Sequence);
                active = _crossings[i].Rearmed ? active : i;
            }
        }

        if (crossed && active < 0)
        {
            var crossing = new BudgetCrossing(kind, sequence + 1, threshold, _month, nowMs, _spentNanos, budget, false, AlertDelivery.New, _incarnation);
            SetCrossings([.. _crossings, crossing]);
            if (kind == BudgetCrossing.Pause && !_paused)
            {
                (_paused, _pausedByThreshold) = (true, true);
                MarkState();
            }
        }
        else if (!crossed && active >= 0 && rearm)
        {
            var updated = _crossings.ToArray();
            updated[active] = updated[active] with { Rearmed = true };
            SetCrossings(updated);
            if (kind == BudgetCrossing.Pause)
            {
                LiftThresholdPause();
            }
        }
    }

    /// <summary>
    /// The spend at which a threshold is crossed (nano-dollars, rounded up: reaching it exactly crosses; at least one, as
    /// a threshold above zero is never reached by spending nothing); never (<see cref="long.MaxValue"/>) without a budget
    /// above zero or with the threshold off.
    /// </summary>
    private static long CrossedAt(double threshold, long budget) =>
        budget > 0 && threshold > 0 ? Math.Max(1, (long)Math.Ceiling((decimal)threshold * budget)) : long.MaxValue;

    /// <summary>A new month: the old month's crossings stop counting (kept only while their webhook is pending); a threshold pause ends.</summary>
    private void RollThresholds()
    {
        if (_crossings.Any(c => c.Month != _month && !c.Delivery.IsPending))
        {
            SetCrossings([.. _crossings.Where(c => c.Month == _month || c.Delivery.IsPending)]);
        }

        if (_pausedByThreshold && !_crossings.Any(c => c.Kind == BudgetCrossing.Pause && c.Month == _month && !c.Rearmed))
        {
            LiftThresholdPause();
        }
    }

    private void LiftThresholdPause()
    {
        if (_pausedByThreshold)
        {
            (_paused, _pausedByThreshold) = (false, false);
            MarkState();
        }
    }

    private void SetCrossings(IReadOnlyList<BudgetCrossing> crossings)
    {
        _crossings = crossings;
        _pendingDeliveries = crossings.Count(c => c.Delivery.IsPending);
        _changes.Crossings = crossings;
    }

    private BudgetPause? PauseCause() =>
        _pausedByThreshold ? new BudgetPause(_spentNanos, _limits.MonthlyBudgetNanos ?? 0, PauseThreshold) : null;
}
