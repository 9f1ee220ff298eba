using Orleans.Concurrency;
using RelayCluster.Core.Tenants;
using RelayCluster.Silo.Alerts;

namespace RelayCluster.Silo.Tenants;

/// <summary>
/// One tenant's windows, slots and budget as an Orleans grain (key: tenant id). The turns are <see cref="ITenantGrain"/>'s,
/// plus what only a grain needs: the admitting silo (so a dead silo's reservations are reclaimed), incarnations and
/// forgetting a deleted tenant, and where the grain runs.
/// </summary>
[Alias("relay.tenant")]
public interface ITenantActor : IGrainWithStringKey
{
    /// <summary>Admits or refuses; an admission is answered once it is durable.</summary>
    /// <param name="silo">The admitting silo's address (<c>SiloAddress.ToParsableString()</c>).</param>
    /// <exception cref="StoreUnavailableException">The commit failed or was fenced: nothing is acknowledged.</exception>
    [Alias("admit")]
    ValueTask<Admission> AdmitAsync(AdmissionRequest request, string silo);

    [Alias("settle")]
    ValueTask<bool> SettleAsync(Settlement settlement);

    [Alias("release")]
    ValueTask<bool> ReleaseAsync(string requestId);

    [Alias("renew")]
    ValueTask<bool> RenewAsync(string requestId);

    [Alias("quota")]
    ValueTask<QuotaSnapshot> GetQuotaAsync();

    [Alias("precheck")]
    ValueTask<Admission?> PrecheckAsync(double capacityShare);

    [Alias("set-limits")]
    ValueTask SetLimitsAsync(TenantLimits limits);

    [Alias("update-limits")]
    ValueTask<TenantLimits> UpdateLimitsAsync(TenantLimitsPatch patch);

    [Alias("pause")]
    ValueTask SetPausedAsync(bool paused);

    [Alias("alerts")]
    ValueTask<BudgetAlerts> GetAlertsAsync();

    /// <summary>Makes the state that of this incarnation of the id (a tenant created again after a delete starts afresh).</summary>
    [Alias("incarnation")]
    ValueTask BeginIncarnationAsync(string incarnation);

    /// <summary>Forgets the deleted tenant's state everywhere (its ledger and usage totals are set aside for audit).</summary>
    [Alias("forget")]
    ValueTask ForgetAsync();

    /// <summary>The address of the silo this activation runs on (for operators and failure tests).</summary>
    [Alias("host")]
    ValueTask<string> HostAsync();

    /// <summary>The tenant as the admin hub shows it, read in one turn (the live feed's snapshot).</summary>
    [Alias("live-row")]
    ValueTask<Console.Live.TenantRow> LiveRowAsync();
}

/// <summary>
/// The tenant grain: decides every turn synchronously on a <see cref="TenantBook"/>, then waits until what the turn
/// changed is durable. Reentrant, so turns interleave only at that wait: while one commit is in flight, the turns behind
/// it decide and queue their changes, and the next commit carries them all (group commit; one flush at a time). A
/// refusal changes nothing and answers at once; since queued, uncommitted admissions already count against the limits,
/// a refusal can only err on the safe side. If a commit fails (the store is down, or a newer activation fenced this
/// one), every turn waiting on it or queued behind it fails, the activation takes no more turns and deactivates, and the
/// next call loads the committed state afresh: nothing unacknowledged is ever presented as done, and nothing committed is
/// lost. Reservations of a silo the cluster declares dead are reclaimed as soon as the grain hears of it. Budget
/// thresholds are crossed in the turns of the book; their webhooks are delivered after the commit (TenantGrain.Alerts.cs).
/// </summary>
[Reentrant]
internal sealed partial class TenantGrain(
    ITenantJournal journal, TenantStoreOptions options, [FromKeyedServices(TenantGrain.ClockKey)] TimeProvider time,
    IClusterMembershipService membership, ILocalSiloDetails local, AlertWebhook webhook, Console.Live.LiveFeed live, ILogger<TenantGrain> logger)
    : Grain, ITenantActor
{
    /// <summary>
    /// The clock of the tenants' windows, deadlines and budget months: the relay's own (a keyed service, so a test can move
    /// the tenants' time without moving the time of Orleans itself).
    /// </summary>
    public const string ClockKey = "relay.tenant-clock";

    private TenantBook _book = null!;
    private long _epoch;
    private TaskCompletionSource _queued = NewCommit();
    private Task _flushing = Task.CompletedTask;
    private Exception? _failed;
    private readonly CancellationTokenSource _deactivating = new();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        TenantJournalLoad loaded;
        try
        {
            loaded = await journal.LoadAsync(this.GetPrimaryKeyString());
        }
        catch (Exception ex)
        {
            throw new StoreUnavailableException($"Tenant {this.GetPrimaryKeyString()}: its state could not be loaded ({ex.Message}).");
        }

        var (epoch, image) = loaded;
        _epoch = epoch;
        _book = new TenantBook(this.GetPrimaryKeyString(), image, BookOptions, NowMs());
        ReclaimDeadSilos(membership.CurrentSnapshot);
        DispatchAlerts(); // pending webhooks of an earlier activation (a crash, a restart) resume here
        _ = WatchMembershipAsync(_deactivating.Token);
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _deactivating.Cancel();
        _deactivating.Dispose();
        return _flushing; // a last commit in flight finishes (or fails) before the activation is gone
    }

    public async ValueTask<Admission> AdmitAsync(AdmissionRequest request, string silo)
    {
        ThrowIfFailed();
        var admission = _book.Admit(request, silo, NowMs());
        if (admission.IsAdmitted)
        {
            await DurableAsync();
        }

        return admission;
    }

    public async ValueTask<bool> SettleAsync(Settlement settlement)
    {
        ThrowIfFailed();
        var booked = _book.Settle(settlement, NowMs());
        await DurableAsync();
        DispatchAlerts();
        return booked;
    }

    public async ValueTask<bool> ReleaseAsync(string requestId)
    {
        ThrowIfFailed();
        var released = _book.Release(requestId, NowMs());
        await DurableAsync();
        return released;
    }

    public async ValueTask<bool> RenewAsync(string requestId)
    {
        ThrowIfFailed();
        var renewed = _book.Renew(requestId, NowMs());
        await DurableAsync();
        return renewed;
    }

    public ValueTask<QuotaSnapshot> GetQuotaAsync()
    {
        ThrowIfFailed();
        return ValueTask.FromResult(_book.Quota(NowMs()));
    }

    public ValueTask<Admission?> PrecheckAsync(double capacityShare)
    {
        ThrowIfFailed();
        return ValueTask.FromResult(_book.Precheck(capacityShare, NowMs()));
    }

    public async ValueTask SetLimitsAsync(TenantLimits limits)
    {
        ThrowIfFailed();
        _book.SetLimits(limits, NowMs());
        await DurableAsync();
        DispatchAlerts();
    }

    public async ValueTask<TenantLimits> UpdateLimitsAsync(TenantLimitsPatch patch)
    {
        ThrowIfFailed();
        var limits = _book.UpdateLimits(patch, NowMs());
        await DurableAsync();
        DispatchAlerts();
        return limits;
    }

    public async ValueTask SetPausedAsync(bool paused)
    {
        ThrowIfFailed();
        _book.SetPaused(paused);
        await DurableAsync();
    }

    public async ValueTask BeginIncarnationAsync(string incarnation)
    {
        ThrowIfFailed();
        if (_book.Incarnation != incarnation)
        {
            var nowMs = NowMs();
            var spent = await journal.IncarnationSpendAsync(this.GetPrimaryKeyString(), incarnation, Core.Metering.Money.MonthOf(time.GetUtcNow()));
            ThrowIfFailed();

            // The same incarnation may have begun while the spend was read (a creation retried): beginning it again would
            // wipe what was set and admitted under it since.
            if (_book.Incarnation != incarnation)
            {
                _book.BeginIncarnation(incarnation, spent, nowMs);
            }
        }

        // Also when it had begun already: answered only once that is durable.
        await DurableAsync();
    }

    public async ValueTask ForgetAsync()
    {
        ThrowIfFailed();
        await _flushing;
        _epoch = await journal.ForgetAsync(this.GetPrimaryKeyString());
        _book = new TenantBook(this.GetPrimaryKeyString(), new TenantImage(), BookOptions, NowMs());
        if (live.Watched)
        {
            live.TenantRemoved(this.GetPrimaryKeyString());
        }
    }

    public ValueTask<Console.Live.TenantRow> LiveRowAsync()
    {
        ThrowIfFailed();
        return ValueTask.FromResult(LiveRow());
    }

    /// <summary>The row the admin hub shows, from the book as it is in this turn.</summary>
    private Console.Live.TenantRow LiveRow()
    {
        var nowMs = NowMs();
        return Console.Live.TenantRow.From(_book.Quota(nowMs), _book.Alerts(nowMs), nowMs);
    }

    public ValueTask<string> HostAsync() => ValueTask.FromResult(local.SiloAddress.ToParsableString());

    private long NowMs() => time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>The store's options with the relay's default thresholds (<c>Relay:Alerts</c>).</summary>
    private TenantStoreOptions BookOptions => options with { AlertThreshold = webhook.Options.AlertThreshold, PauseThreshold = webhook.Options.PauseThreshold };

    private void ThrowIfFailed()
    {
        if (_failed is not null)
        {
            throw new StoreUnavailableException($"Tenant {this.GetPrimaryKeyString()} is reloading after a failed commit; retry.");
        }
    }

    /// <summary>Completes when everything the book has changed so far is committed; starts the flush loop if it is idle.</summary>
    private Task DurableAsync()
    {
        if (_book.Changes.IsEmpty)
        {
            // Nothing of this turn's own to wait for, but an earlier turn's commit may still be in flight: a turn never
            // answers before the state it read is durable (a settle answered "already settled" while the first is pending).
            return _flushing.IsCompleted ? Task.CompletedTask : _queued.Task;
        }

        var mine = _queued.Task;
        if (_flushing.IsCompleted)
        {
            _flushing = FlushAsync();
        }

        return mine;
    }

    /// <summary>One commit at a time; each carries every change queued while the previous one was in flight.</summary>
    private async Task FlushAsync()
    {
        while (!_book.Changes.IsEmpty && _failed is null)
        {
            var changes = _book.TakeChanges();
            var waiting = _queued;
            _queued = NewCommit();
            try
            {
                await journal.CommitAsync(this.GetPrimaryKeyString(), _epoch, changes);
                waiting.SetResult();
                if (live.Watched)
                {
                    // Only when a console watches: one volatile read otherwise. The row is the committed state plus
                    // whatever turns queued meanwhile (committed next, or the activation fails and reloads).
                    live.Tenant(LiveRow());
                }
            }
            catch (Exception ex)
            {
                // What this activation holds in memory may now differ from what is stored: take no more turns, fail every
                // waiter, and let the next call load the stored state in a new activation.
                // Only the message crosses to callers: an inner exception of a client library's type may not survive
                // Orleans' serializer on the way to another silo.
                _failed = new StoreUnavailableException($"Tenant {this.GetPrimaryKeyString()}: the commit failed ({ex.Message}); retry.");
                waiting.SetException(_failed);
                _queued.SetException(_failed);
                LogCommitFailed(logger, this.GetPrimaryKeyString(), ex.Message);
                DeactivateOnIdle();
            }
        }

        // Turns that queued nothing of their own wait on the commit that was in flight; with nothing queued after it, release them.
        if (_failed is null && _book.Changes.IsEmpty)
        {
            var idle = _queued;
            _queued = NewCommit();
            idle.TrySetResult();
        }
    }

    private static TaskCompletionSource NewCommit() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tenant {TenantId}: a commit failed ({Reason}); its callers were refused and the grain reloads.")]
    private static partial void LogCommitFailed(ILogger logger, string tenantId, string reason);
}
