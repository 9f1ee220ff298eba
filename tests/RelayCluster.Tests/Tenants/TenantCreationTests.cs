using RelayCluster.Core.Auth;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Tenants;

public sealed class TenantCreationTests
{
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task Limits_are_in_force_before_the_tenant_and_its_keys_are_published()
    {
        using var usage = new TempDirectory();
        await using var ledger = new JsonlUsageLedger(usage.Path, _clock, Microsoft.Extensions.Logging.Abstractions.NullLogger<JsonlUsageLedger>.Instance);
        var grains = JournaledTenantGrains.Embedded(ledger, TenantStoreOptions.Default, _clock);
        await grains.GetTenant("acme").SetPausedAsync(true); // what a deleted tenant of the same id may have left
        var limits = new TenantLimits(5, 100, 2, 1000);
        var directory = new PublishProbe(new MemoryTenantDirectory(), async () =>
        {
            var quota = await grains.GetTenant("acme").GetQuotaAsync();
            Assert.Equal(limits, quota.Limits);
            Assert.False(quota.Paused);
        });

        Assert.True(await TenantCreation.CreateAsync(directory, grains, new TenantEntry("acme", ["*"], 1), [ApiKeys.From("sk-acme", 1)], limits));
        Assert.True(directory.Published);

        // An existing tenant is left exactly as it was.
        await grains.GetTenant("acme").SetLimitsAsync(new TenantLimits(9, null, null, null));
        Assert.False(await TenantCreation.CreateAsync(directory, grains, new TenantEntry("acme", ["*"], 2), [], limits));
        Assert.Equal(9, (await grains.GetTenant("acme").GetQuotaAsync()).Limits.RequestsPerMinute);
    }

    /// <summary>A directory that runs a check at the moment a tenant is published.</summary>
    private sealed class PublishProbe(ITenantDirectory inner, Func<Task> onPublish) : ITenantDirectory
    {
        public bool Published { get; private set; }

        public event Action? Changed
        {
            add => inner.Changed += value;
            remove => inner.Changed -= value;
        }

        public async Task<bool> CreateAsync(TenantEntry tenant, IReadOnlyList<NewApiKey> keys)
        {
            await onPublish();
            Published = true;
            return await inner.CreateAsync(tenant, keys);
        }

        public Task<string?> FindTenantIdAsync(string keyHash) => inner.FindTenantIdAsync(keyHash);

        public Task<TenantEntry?> GetAsync(string tenantId) => inner.GetAsync(tenantId);

        public Task<IReadOnlyList<string>> ListAsync() => inner.ListAsync();

        public Task<bool> SetModelsAsync(string tenantId, IReadOnlyList<string> models) => inner.SetModelsAsync(tenantId, models);

        public Task<bool> DeleteAsync(string tenantId) => inner.DeleteAsync(tenantId);

        public Task<bool> AddKeyAsync(string tenantId, NewApiKey key) => inner.AddKeyAsync(tenantId, key);

        public Task<bool> RevokeKeyAsync(string tenantId, string keyId) => inner.RevokeKeyAsync(tenantId, keyId);

        public Task<IReadOnlyList<ApiKeyEntry>> ListKeysAsync(string tenantId) => inner.ListKeysAsync(tenantId);

        public async Task<bool> CreateConfiguredAsync(TenantEntry tenant, IReadOnlyList<NewApiKey> keys)
        {
            await onPublish();
            Published = true;
            return await inner.CreateConfiguredAsync(tenant, keys);
        }

        public Task<bool> IsDeletedAsync(string tenantId) => inner.IsDeletedAsync(tenantId);

        public Task<string?> KnownIncarnationAsync(string tenantId) => inner.KnownIncarnationAsync(tenantId);
    }
}
