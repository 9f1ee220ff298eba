using RelayCluster.Core.Metering;

namespace RelayCluster.Core.Tenants;

/// <summary>
/// The embedded store's tenant journal: state in this process (so a deactivated grain loses nothing), usage records
/// in the JSON-lines usage log, whose group-commit writer the request path never waits on, and limits and pause in a
/// small settings log (<see cref="TenantSettingsLog"/>). A tenant this process has not seen since it started begins from
/// its last written limits and pause and the month's spend in the usage log for its incarnation, which is how a restart
/// keeps admin changes, spend and usage (windows and open reservations start empty, as requests in flight died with
/// the process). Fencing works as in the cluster (one epoch per tenant), though one silo never holds two activations.
/// </summary>
/// <param name="settingsPath">Where limits and pause outlive the process; null keeps them in memory only.</param>
public sealed class EmbeddedTenantJournal(
    IUsageLedger ledger, TimeProvider time, Func<string, string>? incarnationOf = null, string? settingsPath = null) : ITenantJournal
{
    private readonly Lock _lock = new();
    private readonly TenantSettingsLog _settings = new(settingsPath);
    private readonly Dictionary<string, (long Epoch, TenantImage Image)> _tenants = new(StringComparer.Ordinal);

    public Task<TenantJournalLoad> LoadAsync(string tenantId)
    {
        lock (_lock)
        {
            if (!_tenants.TryGetValue(tenantId, out var held))
            {
                var incarnation = incarnationOf?.Invoke(tenantId) ?? "";
                var month = Money.MonthOf(time.GetUtcNow());
                var (limits, paused, pausedByThreshold, crossings) = _settings.Find(tenantId, incarnation) ?? (TenantLimits.Unlimited, false, false, []);
                var image = new TenantImage
                {
                    State = new TenantScalars(limits, paused, month, ledger.SpentBy(tenantId, incarnation, month), incarnation, pausedByThreshold),
                    Crossings = crossings,
                };
                held = (0, image);
            }

            _tenants[tenantId] = (held.Epoch + 1, held.Image);
            return Task.FromResult(new TenantJournalLoad(held.Epoch + 1, held.Image.Copy())); // the book reads it while commits change the journal's own
        }
    }

    public Task CommitAsync(string tenantId, long epoch, TenantChanges changes)
    {
        lock (_lock)
        {
            if (!_tenants.TryGetValue(tenantId, out var held) || held.Epoch != epoch)
            {
                throw new StoreUnavailableException($"Tenant {tenantId}: this activation was fenced by a newer one.");
            }

            held.Image.Apply(changes);
            if ((changes.State is not null || changes.Crossings is not null) && held.Image.State is { } state)
            {
                _settings.Changed(tenantId, state, held.Image.Crossings);
            }

            foreach (var entry in changes.Ledger)
            {
                ledger.Append(entry.Month, entry.Record);
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>Tenants with a budget alert whose webhook is still pending (in-memory reminders die with the process: the host activates these at start).</summary>
    public IReadOnlyList<string> TenantsWithPendingAlerts()
    {
        lock (_lock)
        {
            return _settings.WithPendingDeliveries();
        }
    }

    public Task<long> IncarnationSpendAsync(string tenantId, string incarnation, string month) =>
        Task.FromResult(ledger.SpentBy(tenantId, incarnation, month));

    public Task<long> ForgetAsync(string tenantId)
    {
        lock (_lock)
        {
            var epoch = (_tenants.TryGetValue(tenantId, out var held) ? held.Epoch : 0) + 1;
            _tenants[tenantId] = (epoch, new TenantImage());
            _settings.Forgot(tenantId);
            return Task.FromResult(epoch);
        }
    }
}
