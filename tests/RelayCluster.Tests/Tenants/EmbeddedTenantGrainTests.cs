using RelayCluster.Core.Tenants;

namespace RelayCluster.Tests.Tenants;

/// <summary>The tenant contract on the Orleans grain with the embedded journal, called through the other silo than the grain's by turns.</summary>
public sealed class EmbeddedTenantGrainTests(EmbeddedTenantGrainCluster cluster)
    : TenantGrainClusterContract<EmbeddedTenantGrainCluster>(cluster), IClassFixture<EmbeddedTenantGrainCluster>
{
    protected override Task<(long Records, long CostNanos)> LedgerAsync(ITenantGrain grain)
    {
        var records = Cluster.Committed(Tenants[grain]);
        return Task.FromResult(((long)records.Count, records.Sum(r => r.CostNanos)));
    }

    [Fact]
    public async Task A_new_grain_starts_from_the_months_spend_in_the_usage_log()
    {
        var id = "acme-" + Guid.NewGuid().ToString("N");
        Cluster.Ledger.Spent[id] = 950;
        var grain = Cluster.Factory().GetTenant(id);
        await grain.SetLimitsAsync(new TenantLimits(null, null, null, 1000));
        Assert.Equal(AdmissionOutcome.BudgetExceeded, (await grain.AdmitAsync(new AdmissionRequest("a", 1, 100))).Outcome);
        Assert.Equal(950, (await grain.GetQuotaAsync()).SpentNanos);
    }
}
