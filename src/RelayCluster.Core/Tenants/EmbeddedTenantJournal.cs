using RelayCluster.Core.Metering;

namespace RelayCluster.Core.Tenants;

/// <summary>
/// The embedded store's tenant journal: state in this process (so a deactivated grain loses nothing) and usage records
/// in the JSON-lines usage log, whose group-commit writer the request path never waits on. A tenant this process has
/// not seen since it started begins from the month's spend in the log for its incarnation, which is how a restart keeps
/// spend and usage (windows and open reservations start empty, as requests in flight died with the process). Fencing
/// works as in the cluster (one epoch per tenant), though one silo never holds two activations.
/// </summary>
public sealed class EmbeddedTenantJournal(IUsageLedger ledger, TimeProvider time, Func<string, string>? incarnationOf = null) : ITenantJournal
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (long Epoch, TenantImage Image)> _tenants = new(StringComparer.Ordinal);

    public Task<TenantJournalLoad> LoadAsync(string tenantId)
    {
        lock (_lock)
        {
            if (!_tenants.TryGetValue(tenantId, out var held))
            {
                var incarnation = incarnationOf?.Invoke(tenantId) ?? "";
                var month = Money.MonthOf(time.GetUtcNow());
                var image = new TenantImage
                {
                    State = new TenantScalars(TenantLimits.Unlimited, false, month, ledger.SpentBy(tenantId, incarnation, month), incarnation),
                };
                held = (0, image);
            }

            _tenants[tenantId] = (held.Epoch + 1, held.Image);
            return Task.FromResult(new TenantJournalLoad(held.Epoch + 1, Copy(held.Image)));
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
            foreach (var entry in changes.Ledger)
            {
                ledger.Append(entry.Record);
            }
        }

        return Task.CompletedTask;
    }

    public Task<long> IncarnationSpendAsync(string tenantId, string incarnation, string month) =>
        Task.FromResult(ledger.SpentBy(tenantId, incarnation, month));

    public Task<long> ForgetAsync(string tenantId)
    {
        lock (_lock)
        {
            var epoch = (_tenants.TryGetValue(tenantId, out var held) ? held.Epoch : 0) + 1;
            _tenants[tenantId] = (epoch, new TenantImage());
            return Task.FromResult(epoch);
        }
    }

    /// <summary>A copy the book can read while commits keep changing the journal's own.</summary>
    private static TenantImage Copy(TenantImage image)
    {
        var copy = new TenantImage { State = image.State };
        foreach (var (k, v) in image.Requests)
        {
            copy.Requests[k] = v;
        }

        foreach (var (k, v) in image.Tokens)
        {
            copy.Tokens[k] = v;
        }

        foreach (var (k, v) in image.Reservations)
        {
            copy.Reservations[k] = v;
        }

        foreach (var (k, v) in image.Reclaimed)
        {
            copy.Reclaimed[k] = v;
        }

        return copy;
    }
}
