using RelayCluster.Core.Auth;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;
using RelayCluster.Redis;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Tenants;

/// <summary>
/// Deletes that stay deleted and purges that leave nothing to inherit, at the store level, against both stores:
/// the directory's tombstones (seen by another silo), and the grain purge. (A purge of a tenant's batch grains is in
/// BatchGrainContract.)
/// </summary>
public abstract class TenantPurgeContract
{
    protected ManualClock Clock { get; } = new(new DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.Zero));

    protected TenantStoreOptions TenantOptions { get; } = new(60_000);

    /// <summary>The directory as two silos see it (the second one started later).</summary>
    protected abstract Task<(ITenantDirectory Writer, ITenantDirectory Later)> DirectoriesAsync();

    /// <summary>The tenant grains, which purge.</summary>
    protected abstract ITenantGrainFactory Stores();

    private static string NewId() => "p-" + Guid.NewGuid().ToString("N")[..12];

    [Fact]
    public async Task A_deleted_tenant_and_a_revoked_key_are_never_seeded_again_but_an_explicit_create_brings_the_id_back()
    {
        var (directory, later) = await DirectoriesAsync();
        var (gone, kept) = (NewId(), NewId());
        var goneKey = ApiKeys.From("sk-" + gone, 1);
        var (revoked, alive) = (ApiKeys.From("sk-r-" + kept, 1), ApiKeys.From("sk-a-" + kept, 1));
        Assert.True(await directory.CreateConfiguredAsync(new TenantEntry(gone, ["*"], 1), [goneKey]));
        Assert.True(await directory.CreateConfiguredAsync(new TenantEntry(kept, ["*"], 1), [revoked, alive]));

        Assert.True(await directory.DeleteAsync(gone));
        Assert.True(await directory.RevokeKeyAsync(kept, revoked.Entry.Id));
        Assert.True(await directory.DeleteAsync(kept)); // deleting a tenant and creating it again must not revive a revoked key either

        Assert.True(await later.IsDeletedAsync(gone));
        Assert.False(await later.CreateConfiguredAsync(new TenantEntry(gone, ["*"], 2), [goneKey]));
        Assert.Null(await later.GetAsync(gone));

        // An explicit create lifts the tombstone, and a delete sets it again.
        Assert.True(await later.CreateAsync(new TenantEntry(kept, ["*"], 3) { Incarnation = "inc-2" }, []));
        Assert.False(await later.IsDeletedAsync(kept));
        Assert.Equal("inc-2", (await later.GetAsync(kept))!.Incarnation);
        Assert.True(await later.DeleteAsync(kept));
        Assert.False(await later.CreateConfiguredAsync(new TenantEntry(kept, ["*"], 4), [alive]));

        // Keys revoked (one by one or with their tenant) are left out wherever the configuration puts them.
        var fresh = NewId();
        var freshKey = ApiKeys.From("sk-" + fresh, 5);
        Assert.True(await later.CreateConfiguredAsync(new TenantEntry(fresh, ["*"], 5), [revoked, goneKey, alive, freshKey]));
        Assert.Null(await later.FindTenantIdAsync(revoked.Hash));
        Assert.Null(await later.FindTenantIdAsync(goneKey.Hash));
        Assert.Null(await later.FindTenantIdAsync(alive.Hash));
        Assert.Equal(fresh, await later.FindTenantIdAsync(freshKey.Hash));
    }

    [Fact]
    public async Task A_purged_tenant_leaves_no_spend_or_windows_to_the_next_tenant_of_its_id()
    {
        var tenants = Stores();
        var tenant = NewId();
        var grain = tenants.GetTenant(tenant);
        await grain.SetLimitsAsync(new TenantLimits(100, 1_000_000, 10, 1_000_000));
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("done", 10, 500))).IsAdmitted);
        Assert.True(await grain.SettleAsync(Booking(tenant, "done", 120)));
        Assert.Equal(120, (await grain.GetQuotaAsync()).SpentNanos);

        await new TenantPurge(new object[] { tenants }.OfType<ITenantDataPurge>()).PurgeAsync(tenant);

        // The id's next tenant (a new incarnation, as an explicit create makes): nothing of the old one.
        if (tenants is ITenantIncarnations incarnations)
        {
            await incarnations.BeginIncarnationAsync(tenant, TenantIncarnation.New());
        }

        var next = tenants.GetTenant(tenant);
        await next.SetLimitsAsync(new TenantLimits(100, 1_000_000, 10, 1_000_000));
        Assert.True((await next.AdmitAsync(new AdmissionRequest("late", 10, 500))).IsAdmitted); // admitted after the re-create
        Assert.True(await next.ReleaseAsync("late"));

        var quota = await next.GetQuotaAsync();
        Assert.Equal((0L, 0L, 0), (quota.SpentNanos, quota.ReservedNanos, quota.InFlight));
        Assert.Equal(1, quota.RequestsInWindow); // only the new tenant's own admission
    }

    private Settlement Booking(string tenant, string requestId, long cost) => new(new UsageRecord
    {
        TimestampMs = Clock.GetUtcNow().ToUnixTimeMilliseconds(), Tenant = tenant, RequestId = requestId, Endpoint = "/v1/chat/completions",
        Model = "m", UpstreamModel = "m", Provider = "p", PromptTokens = 3, CompletionTokens = 4, CostNanos = cost, Ending = Endings.Completed, Status = 200,
    });
}

public sealed class MemoryTenantPurgeTests : TenantPurgeContract, IDisposable
{
    private readonly TempDirectory _usage = new();
    private readonly JsonlUsageLedger _ledger;
    private readonly JournaledTenantGrains _tenants;

    public MemoryTenantPurgeTests()
    {
        _ledger = new JsonlUsageLedger(_usage.Path, Clock, Microsoft.Extensions.Logging.Abstractions.NullLogger<JsonlUsageLedger>.Instance);
        _tenants = JournaledTenantGrains.Embedded(_ledger, TenantOptions, Clock);
    }

    public void Dispose()
    {
        _ledger.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _usage.Dispose();
    }

    /// <summary>The later directory is the next process: a new directory over the same journal.</summary>
    protected override Task<(ITenantDirectory Writer, ITenantDirectory Later)> DirectoriesAsync()
    {
        var journal = Path.Combine(_usage.Path, "tenants.journal");
        return Task.FromResult<(ITenantDirectory, ITenantDirectory)>((new MemoryTenantDirectory(journal), new LaterProcess(journal)));
    }

    protected override ITenantGrainFactory Stores() => _tenants;

    [Fact]
    public async Task A_grain_of_a_new_incarnation_starts_at_zero_and_each_incarnation_gets_its_own_spend_back_after_a_restart()
    {
        await _tenants.BeginIncarnationAsync("acme", "one");
        await Spend(_tenants, "acme", "r1", 100);
        await _tenants.BeginIncarnationAsync("acme", "two");
        Assert.Equal(0, (await _tenants.GetTenant("acme").GetQuotaAsync()).SpentNanos);
        await Spend(_tenants, "acme", "r2", 7);
        await _ledger.FlushAsync();

        await using var restarted = new JsonlUsageLedger(_usage.Path, Clock, Microsoft.Extensions.Logging.Abstractions.NullLogger<JsonlUsageLedger>.Instance);
        var grains = JournaledTenantGrains.Embedded(restarted, TenantOptions, Clock);
        await grains.BeginIncarnationAsync("acme", "two");
        Assert.Equal(7, (await grains.GetTenant("acme").GetQuotaAsync()).SpentNanos);
        Assert.Equal(1, restarted.GetSummary("acme", "two", "2026-11").Requests);
        Assert.Equal(100, restarted.GetSummary("acme", "one", "2026-11").CostNanos); // the old records are kept, apart
    }

    private async Task Spend(JournaledTenantGrains grains, string tenant, string requestId, long cost)
    {
        var grain = grains.GetTenant(tenant);
        Assert.True((await grain.AdmitAsync(new AdmissionRequest(requestId, 1, cost))).IsAdmitted);
        Assert.True(await grain.SettleAsync(new Settlement(new UsageRecord
        {
            TimestampMs = Clock.GetUtcNow().ToUnixTimeMilliseconds(), Tenant = tenant, RequestId = requestId, Endpoint = "/v1/chat/completions",
            Model = "m", UpstreamModel = "m", Provider = "p", CostNanos = cost, Ending = Endings.Completed, Status = 200,
        })));
    }

    /// <summary>A directory opened over the journal only when first used, as a process started after the writes would.</summary>
    private sealed class LaterProcess(string journal) : ITenantDirectory
    {
        private MemoryTenantDirectory? _inner;

        private MemoryTenantDirectory Inner => _inner ??= new MemoryTenantDirectory(journal);

        public event Action? Changed
        {
            add => Inner.Changed += value;
            remove => Inner.Changed -= value;
        }

        public Task<string?> FindTenantIdAsync(string keyHash) => Inner.FindTenantIdAsync(keyHash);

        public Task<TenantEntry?> GetAsync(string tenantId) => Inner.GetAsync(tenantId);

        public Task<IReadOnlyList<string>> ListAsync() => Inner.ListAsync();

        public Task<bool> CreateAsync(TenantEntry tenant, IReadOnlyList<NewApiKey> keys) => Inner.CreateAsync(tenant, keys);

        public Task<bool> SetModelsAsync(string tenantId, IReadOnlyList<string> models) => Inner.SetModelsAsync(tenantId, models);

        public Task<bool> DeleteAsync(string tenantId) => Inner.DeleteAsync(tenantId);

        public Task<bool> AddKeyAsync(string tenantId, NewApiKey key) => Inner.AddKeyAsync(tenantId, key);

        public Task<bool> RevokeKeyAsync(string tenantId, string keyId) => Inner.RevokeKeyAsync(tenantId, keyId);

        public Task<IReadOnlyList<ApiKeyEntry>> ListKeysAsync(string tenantId) => Inner.ListKeysAsync(tenantId);

        public Task<bool> CreateConfiguredAsync(TenantEntry tenant, IReadOnlyList<NewApiKey> keys) => Inner.CreateConfiguredAsync(tenant, keys);

        public Task<bool> IsDeletedAsync(string tenantId) => Inner.IsDeletedAsync(tenantId);

        public Task<string?> KnownIncarnationAsync(string tenantId) => Inner.KnownIncarnationAsync(tenantId);
    }
}

[Collection(RedisCollection.Name)]
public sealed class RedisTenantPurgeTests(RedisServer redis) : TenantPurgeContract
{
    protected override async Task<(ITenantDirectory Writer, ITenantDirectory Later)> DirectoriesAsync()
    {
        var laterSilo = await RedisConnection.ConnectAsync(redis.ConnectionString);
        return (await RedisTenantDirectory.StartAsync(redis.Connection), await RedisTenantDirectory.StartAsync(laterSilo));
    }

    private JournaledTenantGrains? _tenants;

    protected override ITenantGrainFactory Stores() =>
        _tenants ??= new JournaledTenantGrains(new RedisTenantJournal(redis.Connection), TenantOptions, Clock);
}
