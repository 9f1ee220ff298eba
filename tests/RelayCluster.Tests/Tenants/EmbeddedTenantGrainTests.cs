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
        await grain.SetLimitsAsync(new TenantLimits(null, null, null, 1000, PauseThreshold: 0)); // the budget refuses, not the auto-pause
        Assert.Equal(AdmissionOutcome.BudgetExceeded, (await grain.AdmitAsync(new AdmissionRequest("a", 1, 100))).Outcome);
        Assert.Equal(950, (await grain.GetQuotaAsync()).SpentNanos);
    }

    [Fact]
    public async Task A_repeated_incarnation_is_answered_only_once_the_first_is_durable()
    {
        var id = "inc-" + Guid.NewGuid().ToString("N");
        var factory = Cluster.Factory();
        await factory.GetTenant(id).SetLimitsAsync(new TenantLimits(5, null, null, null)); // activates the grain
        var hold = Cluster.HoldNextCommit(id);
        var first = factory.BeginIncarnationAsync(id, "inc-1").AsTask();
        await hold.Entered.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // The same creation retried while the first one's commit is in flight; then that commit fails.
        var again = factory.BeginIncarnationAsync(id, "inc-1").AsTask();
        await factory.GetTenant(id).GetQuotaAsync(); // a read sent after it answers: the repeat reached this activation
        Assert.False(again.IsCompleted);
        hold.Fail();

        await Assert.ThrowsAsync<StoreUnavailableException>(() => first);
        await Assert.ThrowsAsync<StoreUnavailableException>(() => again); // never acknowledged what was not committed
    }

    [Fact]
    public async Task A_repeated_incarnation_does_not_wipe_what_was_set_after_the_first()
    {
        var id = "inc-" + Guid.NewGuid().ToString("N");
        var factory = Cluster.Factory();
        var grain = factory.GetTenant(id);
        await grain.SetLimitsAsync(new TenantLimits(5, null, null, null)); // activates the grain
        var firstRead = Cluster.HoldNextIncarnationSpend(id);
        var first = factory.BeginIncarnationAsync(id, "inc-1").AsTask();
        await firstRead.Entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var againRead = Cluster.HoldNextIncarnationSpend(id);
        var again = factory.BeginIncarnationAsync(id, "inc-1").AsTask(); // the creation retried while the first reads its spend
        await againRead.Entered.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // The first creation goes on: the new incarnation gets its limits and admits a request.
        firstRead.Release();
        await first;
        await grain.SetLimitsAsync(new TenantLimits(7, null, 3, null));
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("r1", 1, 1))).IsAdmitted);
        againRead.Release();
        await again;

        var quota = await grain.GetQuotaAsync();
        Assert.Equal((7, 1), (quota.Limits.RequestsPerMinute, quota.InFlight));
    }
}
