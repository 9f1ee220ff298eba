using RelayCluster.Core.Tenants;
using RelayCluster.Silo.Alerts;

namespace RelayCluster.Silo.Tenants;

/// <summary>
/// Delivering budget webhooks. A crossing is committed with the settle that made it, as an outbox entry; only then does
/// the grain deliver it, on a grain timer of its own (interleaving, so a request turn never waits on a webhook, and
/// keeping the activation alive while a delivery is pending). Each attempt's outcome is committed like any change, so
/// every silo and a restart see it; a failure is retried after the backoff of <see cref="AlertSchedule"/>. A reminder
/// stands while anything is pending, so a silo's crash or a deactivation does not strand a delivery: its tick activates
/// the grain again (in the embedded store, whose reminders are in memory, <see cref="PendingAlertsWake"/> does this at
/// start). Delivery is at least once: an attempt whose outcome was not committed (a crash, a fenced activation) is
/// repeated, with the same event id, which receivers use to drop the repeat.
/// </summary>
internal sealed partial class TenantGrain : IRemindable
{
    private const string AlertsReminder = "relay.budget-alerts";

    /// <summary>One one-shot timer per crossing being delivered (waiting or attempting), so no crossing has two attempts at once.</summary>
    private readonly Dictionary<(string Kind, string Month, int Sequence), IGrainTimer> _deliveries = [];
    private bool _reminderSet;

    public ValueTask<BudgetAlerts> GetAlertsAsync()
    {
        ThrowIfFailed();
        return ValueTask.FromResult(_book.Alerts(NowMs()));
    }

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName == AlertsReminder && _failed is null)
        {
            _reminderSet = true;
            if (_book.PendingDeliveries == 0)
            {
                return DropReminderAsync();
            }

            DispatchAlerts();
        }

        return Task.CompletedTask;
    }

    /// <summary>Starts a delivery for every committed pending crossing that has none yet. Call only once the crossing is durable.</summary>
    private void DispatchAlerts()
    {
        if (_book.PendingDeliveries == 0 || _failed is not null)
        {
            return; // the settle path's whole cost when nothing is pending
        }

        // Not a count against _deliveries: an attempt that just recorded its outcome still holds its slot until it ends.
        foreach (var crossing in _book.Crossings)
        {
            if (crossing.Delivery.IsPending && !_deliveries.ContainsKey(Key(crossing)))
            {
                Schedule(crossing, TimeSpan.Zero);
            }
        }
    }

    private static (string, string, int) Key(BudgetCrossing crossing) => (crossing.Kind, crossing.Month, crossing.Sequence);

    private void Schedule(BudgetCrossing crossing, TimeSpan due) =>
        _deliveries[Key(crossing)] = this.RegisterGrainTimer(
            DeliverAsync, crossing, new GrainTimerCreationOptions(due, Timeout.InfiniteTimeSpan) { Interleave = true, KeepAlive = true });

    private async Task DeliverAsync(BudgetCrossing scheduled, CancellationToken cancellationToken)
    {
        var id = Key(scheduled);
        var self = _deliveries.GetValueOrDefault(id);
        try
        {
            if (_failed is not null)
            {
                return;
            }

            await EnsureReminderAsync();

            // The book's current copy: its attempts count, and whether it is still pending (a new incarnation drops it).
            var crossing = _book.Crossings.FirstOrDefault(c => c.SameAs(scheduled) && c.Delivery.IsPending);
            if (crossing is null)
            {
                return;
            }

            AlertDelivery delivery;
            if (webhook.UrlFor(_book.Limits) is not { } url)
            {
                delivery = crossing.Delivery with { Status = AlertDelivery.NoWebhook, NextAttemptAtMs = null };
            }
            else
            {
                var error = await webhook.SendAsync(url, this.GetPrimaryKeyString(), crossing, cancellationToken);
                delivery = AlertSchedule.After(crossing.Delivery, error, NowMs(), webhook.Options);
            }

            if (_failed is not null || !_book.RecordDelivery(crossing, delivery))
            {
                return;
            }

            await DurableAsync();
            if (delivery.IsPending)
            {
                Schedule(crossing with { Delivery = delivery }, AlertSchedule.Delay(delivery.Attempts, webhook.Options));
            }
            else if (_book.PendingDeliveries == 0)
            {
                await DropReminderAsync();
            }
        }
        catch (StoreUnavailableException)
        {
            // The outcome was not committed; the activation reloads, and the next one (or the reminder) tries again.
        }
        finally
        {
            // This one-shot timer is spent; a retry was scheduled on a new one (or nothing is left to do).
            if (_deliveries.TryGetValue(id, out var current) && ReferenceEquals(current, self))
            {
                _deliveries.Remove(id);
            }

            self?.Dispose();
        }
    }

    private async Task EnsureReminderAsync()
    {
        if (_reminderSet)
        {
            return;
        }

        try
        {
            await this.RegisterOrUpdateReminder(AlertsReminder, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
            _reminderSet = true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogReminderFailed(logger, this.GetPrimaryKeyString(), ex.Message); // the timer still delivers; only a crash before it would wait for the next activation
        }
    }

    private async Task DropReminderAsync()
    {
        try
        {
            if (await this.GetReminder(AlertsReminder) is { } reminder)
            {
                await this.UnregisterReminder(reminder);
            }

            _reminderSet = false;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogReminderFailed(logger, this.GetPrimaryKeyString(), ex.Message); // its next tick finds nothing pending and tries again
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tenant {TenantId}: the budget alerts reminder could not be changed ({Reason}).")]
    private static partial void LogReminderFailed(ILogger logger, string tenantId, string reason);
}
