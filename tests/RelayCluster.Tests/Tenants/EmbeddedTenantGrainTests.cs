using RelayCluster.Core.Tenants;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Tenants;

/// <summary>The tenant contract on the Orleans grain with the embedded journal, called through the other silo than the grain's by turns.</summary>
public sealed class EmbeddedTenantGrainTests : TenantGrainContract, IClassFixture<EmbeddedTenantGrainCluster>
{
    private readonly EmbeddedTenantGrainCluster _cluster;
    private readonly Dictionary<ITenantGrain, string> _tenants = [];

    public EmbeddedTenantGrainTests(EmbeddedTenantGrainCluster cluster)
    {
        _cluster = cluster;
        cluster.Clock.Set(Start);
    }

    protected override ManualClock Clock => _cluster.Clock;

    protected override async Task<ITenantGrain> GrainAsync(TenantLimits limits)
    {
        var id = "t-" + Guid.NewGuid().ToString("N");
        var grain = _cluster.Factory(_tenants.Count % 2).GetTenant(id);
        await grain.SetLimitsAsync(limits);
        _tenants[grain] = id;
        return grain;
    }

    protected override Task<(long Records, long CostNanos)> LedgerAsync(ITenantGrain grain)
    {
        var records = _cluster.Committed(_tenants[grain]);
        return Task.FromResult(((long)records.Count, records.Sum(r => r.CostNanos)));
    }

    [Fact]
    public async Task A_new_grain_starts_from_the_months_spend_in_the_usage_log()
    {
        var id = "acme-" + Guid.NewGuid().ToString("N");
        _cluster.Ledger.Spent[id] = 950;
        var grain = _cluster.Factory().GetTenant(id);
        await grain.SetLimitsAsync(new TenantLimits(null, null, null, 1000));
        Assert.Equal(AdmissionOutcome.BudgetExceeded, (await grain.AdmitAsync(new AdmissionRequest("a", 1, 100))).Outcome);
        Assert.Equal(950, (await grain.GetQuotaAsync()).SpentNanos);
    }
}
