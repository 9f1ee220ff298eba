using System.Collections.Concurrent;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Tests.Batches;

/// <summary>
/// Tenant grains whose settle of a chosen request fails once with <see cref="StoreUnavailableException"/> before it
/// reaches the grain (a commit that failed and was not applied), for the batch stores' booking after such a failure.
/// </summary>
public sealed class SettleFaults
{
    private readonly ConcurrentDictionary<string, bool> _failOnce = new(StringComparer.Ordinal);

    public void FailNextSettle(string requestId) => _failOnce[requestId] = true;

    public ITenantGrainFactory Wrap(ITenantGrainFactory inner) => new Grains(inner, this);

    private sealed class Grains(ITenantGrainFactory inner, SettleFaults faults) : ITenantGrainFactory
    {
        public ITenantGrain GetTenant(string tenantId) => new Grain(inner.GetTenant(tenantId), faults);
    }

    private sealed class Grain(ITenantGrain inner, SettleFaults faults) : ITenantGrain
    {
        public ValueTask<Admission> AdmitAsync(AdmissionRequest request) => inner.AdmitAsync(request);

        public ValueTask<bool> SettleAsync(Settlement settlement) =>
            faults._failOnce.TryRemove(settlement.RequestId, out _)
                ? throw new StoreUnavailableException("Injected: the settle's commit failed.")
                : inner.SettleAsync(settlement);

        public ValueTask<bool> ReleaseAsync(string requestId) => inner.ReleaseAsync(requestId);

        public ValueTask<bool> RenewAsync(string requestId) => inner.RenewAsync(requestId);

        public ValueTask<QuotaSnapshot> GetQuotaAsync() => inner.GetQuotaAsync();

        public ValueTask<Admission?> PrecheckAsync(double capacityShare) => inner.PrecheckAsync(capacityShare);

        public ValueTask SetLimitsAsync(TenantLimits limits) => inner.SetLimitsAsync(limits);

        public ValueTask<TenantLimits> UpdateLimitsAsync(TenantLimitsPatch patch) => inner.UpdateLimitsAsync(patch);

        public ValueTask SetPausedAsync(bool paused) => inner.SetPausedAsync(paused);
    }
}
