using RelayCluster.Core.Auth;
using RelayCluster.Core.Metering;

namespace RelayCluster.Core.Tenants;

/// <summary>
/// Incarnations and purge for the memory grains. A grain belongs to one incarnation of its id: it stamps that
/// incarnation on every usage record it appends and starts from that incarnation's spend in the log, so a tenant
/// created again with a deleted tenant's id starts at 0, also after a restart, while the log keeps the old records.
/// Replacing a grain leaves requests admitted by the old one settling on it (their records keep the old incarnation).
/// </summary>
public sealed partial class MemoryTenantGrainFactory : ITenantIncarnations, ITenantDataPurge
{
    private readonly Func<string, string> _incarnationOf = _ => "";

    /// <summary>A factory that asks the directory which incarnation an id has when its grain first activates.</summary>
    public MemoryTenantGrainFactory(IUsageLedger ledger, TenantStoreOptions options, TimeProvider time, MemoryTenantDirectory directory)
        : this(ledger, options, time) => _incarnationOf = directory.IncarnationOf;

    public ValueTask BeginIncarnationAsync(string tenantId, string incarnation)
    {
        while (true)
        {
            if (_grains.TryGetValue(tenantId, out var current))
            {
                if (current.Incarnation == incarnation || _grains.TryUpdate(tenantId, Activate(tenantId, incarnation), current))
                {
                    return ValueTask.CompletedTask;
                }
            }
            else if (_grains.TryAdd(tenantId, Activate(tenantId, incarnation)))
            {
                return ValueTask.CompletedTask;
            }
        }
    }

    /// <summary>Drops the grain: windows, reservations, limits and pause go with it; the next activation starts afresh.</summary>
    public Task PurgeAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        _grains.TryRemove(tenantId, out _);
        return Task.CompletedTask;
    }

    private MemoryTenantGrain Activate(string tenantId, string incarnation) => new(
        tenantId, ledger.SpentBy(tenantId, incarnation, Money.MonthOf(time.GetUtcNow())), new IncarnationLedger(ledger, incarnation), options, time)
    {
        Incarnation = incarnation,
    };

    /// <summary>The usage log as one incarnation's grain sees it: its records carry the incarnation.</summary>
    private sealed class IncarnationLedger(IUsageLedger inner, string incarnation) : IUsageLedger
    {
        public void Append(UsageRecord record) => inner.Append(incarnation.Length == 0 ? record : record with { Incarnation = incarnation });

        public IReadOnlyDictionary<string, long> SpentByTenant(string month) => inner.SpentByTenant(month);

        public long SpentBy(string tenantId, string incarnation, string month) => inner.SpentBy(tenantId, incarnation, month);

        public Task FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);
    }
}
