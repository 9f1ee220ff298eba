using System.Collections.Concurrent;
using RelayCluster.Core.Auth;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Silo.Tenants;

/// <summary>
/// The relay's tenant grains are Orleans grains: this hands out thin <see cref="ITenantGrain"/> handles over
/// <see cref="ITenantActor"/>, so the relay pipeline, batch runner and admin API keep their contract. A handle carries
/// this silo's address into admissions (its reservations are reclaimed if this silo dies) and turns a grain that cannot
/// be reached (its silo died mid-call, a timeout, a failed activation) into <see cref="StoreUnavailableException"/>, which
/// callers already answer with 503 <c>store_unavailable</c>.
/// </summary>
public sealed class OrleansTenantGrainFactory(IGrainFactory grains, ILocalSiloDetails local) : ITenantGrainFactory, ITenantIncarnations, ITenantDataPurge
{
    /// <summary>Handles kept, at most: one per tenant in use; past it (a flood of unknown ids) handles are made per call.</summary>
    private const int MaxHandles = 100_000;

    private readonly string _silo = local.SiloAddress.ToParsableString();

    // GetGrain resolves the interface's grain type by name on every call (a type-name parse and format, ~3 % of a silo's
    // CPU per request in the profile); a grain reference is immutable, so each tenant's handle is made once.
    private readonly ConcurrentDictionary<string, Handle> _handles = new(StringComparer.Ordinal);

    public ITenantGrain GetTenant(string tenantId) =>
        _handles.TryGetValue(tenantId, out var handle) ? handle
        : _handles.Count < MaxHandles ? _handles.GetOrAdd(tenantId, id => NewHandle(id))
        : NewHandle(tenantId);

    private Handle NewHandle(string tenantId) => new(grains.GetGrain<ITenantActor>(tenantId), _silo);

    /// <summary>The address of the silo running the tenant's grain (activating it if needed).</summary>
    public async Task<string> HostOfAsync(string tenantId) => await Guard(grains.GetGrain<ITenantActor>(tenantId).HostAsync());

    public async ValueTask BeginIncarnationAsync(string tenantId, string incarnation) =>
        await Guard(grains.GetGrain<ITenantActor>(tenantId).BeginIncarnationAsync(incarnation));

    public async Task PurgeAsync(string tenantId, CancellationToken cancellationToken = default) =>
        await Guard(grains.GetGrain<ITenantActor>(tenantId).ForgetAsync());

    private static async ValueTask Guard(ValueTask call)
    {
        try
        {
            await call;
        }
        catch (Exception ex) when (Unreachable(ex))
        {
            throw Unavailable(ex);
        }
    }

    private static async ValueTask<T> Guard<T>(ValueTask<T> call)
    {
        try
        {
            return await call;
        }
        catch (Exception ex) when (Unreachable(ex))
        {
            throw Unavailable(ex);
        }
    }

    /// <summary>
    /// Everything but the grain's own refusal: Orleans' errors (the silo died mid-call, no activation could be placed), a
    /// timeout, or an exception whose type could not cross from another silo. The grain is the tenant's store, so any of
    /// them means "not reachable now", and the caller fails closed.
    /// </summary>
    private static bool Unreachable(Exception ex) => ex is not StoreUnavailableException and not OperationCanceledException;

    private static StoreUnavailableException Unavailable(Exception ex) => new("The tenant's grain could not be reached: " + ex.Message, ex);

    private sealed class Handle(ITenantActor actor, string silo) : ITenantGrain
    {
        public ValueTask<Admission> AdmitAsync(AdmissionRequest request) => Guard(actor.AdmitAsync(request, silo));

        public ValueTask<bool> SettleAsync(Settlement settlement) => Guard(actor.SettleAsync(settlement));

        public ValueTask<bool> ReleaseAsync(string requestId) => Guard(actor.ReleaseAsync(requestId));

        public ValueTask<bool> RenewAsync(string requestId) => Guard(actor.RenewAsync(requestId));

        public ValueTask<QuotaSnapshot> GetQuotaAsync() => Guard(actor.GetQuotaAsync());

        public ValueTask<Admission?> PrecheckAsync(double capacityShare) => Guard(actor.PrecheckAsync(capacityShare));

        public ValueTask SetLimitsAsync(TenantLimits limits) => Guard(actor.SetLimitsAsync(limits));

        public ValueTask<TenantLimits> UpdateLimitsAsync(TenantLimitsPatch patch) => Guard(actor.UpdateLimitsAsync(patch));

        public ValueTask SetPausedAsync(bool paused) => Guard(actor.SetPausedAsync(paused));

        public ValueTask<BudgetAlerts> GetAlertsAsync() => Guard(actor.GetAlertsAsync());
    }
}
