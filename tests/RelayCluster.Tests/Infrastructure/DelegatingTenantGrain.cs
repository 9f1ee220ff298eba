using RelayCluster.Core.Tenants;

namespace RelayCluster.Tests.Infrastructure;

/// <summary>A tenant grain that passes every turn to another; fault injectors override the turns they break.</summary>
public abstract class DelegatingTenantGrain(ITenantGrain inner) : ITenantGrain
{
    public virtual ValueTask<Admission> AdmitAsync(AdmissionRequest request) => inner.AdmitAsync(request);

    public virtual ValueTask<bool> SettleAsync(Settlement settlement) => inner.SettleAsync(settlement);

    public ValueTask<bool> ReleaseAsync(string requestId) => inner.ReleaseAsync(requestId);

    public ValueTask<bool> RenewAsync(string requestId) => inner.RenewAsync(requestId);

    public ValueTask<QuotaSnapshot> GetQuotaAsync() => inner.GetQuotaAsync();

    public ValueTask<Admission?> PrecheckAsync(double capacityShare) => inner.PrecheckAsync(capacityShare);

    public ValueTask SetLimitsAsync(TenantLimits limits) => inner.SetLimitsAsync(limits);

    public ValueTask<TenantLimits> UpdateLimitsAsync(TenantLimitsPatch patch) => inner.UpdateLimitsAsync(patch);

    public ValueTask SetPausedAsync(bool paused) => inner.SetPausedAsync(paused);

    public ValueTask<BudgetAlerts> GetAlertsAsync() => inner.GetAlertsAsync();
}
