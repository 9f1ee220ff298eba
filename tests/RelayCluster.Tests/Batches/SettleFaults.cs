using System.Collections.Concurrent;
using RelayCluster.Core.Tenants;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Batches;

/// <summary>
/// Tenant grains whose settle of a chosen request fails once with <see cref="StoreUnavailableException"/> before it
/// reaches the grain (a commit that failed and was not applied), for the chunk grains' booking after such a failure (their outbox).
/// </summary>
public sealed class SettleFaults
{
    private readonly ConcurrentDictionary<string, bool> _failOnce = new(StringComparer.Ordinal);

    private int _thrown;

    public void FailNextSettle(string requestId) => _failOnce[requestId] = true;

    /// <summary>Settles failed so far.</summary>
    public int Thrown => Volatile.Read(ref _thrown);

    public ITenantGrainFactory Wrap(ITenantGrainFactory inner) => new Grains(inner, this);

    private sealed class Grains(ITenantGrainFactory inner, SettleFaults faults) : ITenantGrainFactory
    {
        public ITenantGrain GetTenant(string tenantId) => new Grain(inner.GetTenant(tenantId), faults);
    }

    private sealed class Grain(ITenantGrain inner, SettleFaults faults) : DelegatingTenantGrain(inner)
    {
        public override ValueTask<bool> SettleAsync(Settlement settlement) =>
            faults._failOnce.TryRemove(settlement.RequestId, out _)
                ? throw new StoreUnavailableException($"Injected: the settle's commit failed ({Interlocked.Increment(ref faults._thrown)}).")
                : base.SettleAsync(settlement);
    }
}
