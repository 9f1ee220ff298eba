using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Tests.Tenants;

public sealed class MemoryTenantGrainTests : TenantGrainContract
{
    private readonly RecordingLedger _ledger = new();

    protected override async Task<ITenantGrain> GrainAsync(TenantLimits limits)
    {
        var grain = new MemoryTenantGrainFactory(_ledger, Options, Clock).GetTenant("t-" + Guid.NewGuid().ToString("N"));
        await grain.SetLimitsAsync(limits);
        return grain;
    }

    protected override Task<(long Records, long CostNanos)> LedgerAsync(ITenantGrain grain) =>
        Task.FromResult(((long)_ledger.Records.Count, _ledger.Records.Sum(r => r.CostNanos)));

    [Fact]
    public async Task A_new_grain_starts_from_the_months_spend_in_the_usage_log()
    {
        _ledger.Spent["acme"] = 950;
        var grain = new MemoryTenantGrainFactory(_ledger, Options, Clock).GetTenant("acme");
        await grain.SetLimitsAsync(new TenantLimits(null, null, null, 1000));
        Assert.Equal(AdmissionOutcome.BudgetExceeded, (await grain.AdmitAsync(new AdmissionRequest("a", 1, 100))).Outcome);
    }

    private sealed class RecordingLedger : IUsageLedger
    {
        public List<UsageRecord> Records { get; } = [];

        public Dictionary<string, long> Spent { get; } = [];

        public void Append(UsageRecord record) => Records.Add(record);

        public IReadOnlyDictionary<string, long> SpentByTenant(string month) => Spent;

        public Task FlushAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;
    }
}
