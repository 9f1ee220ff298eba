using System.Collections.Frozen;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Routing;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Core.Auth;

/// <summary>
/// A tenant as the relay needs it on every request: its id, the models it may use, and its incarnation (which tenant
/// of that id the request authenticated as; see <see cref="TenantEntry.Incarnation"/>).
/// </summary>
public sealed record Tenant(string Id, ModelPatterns AllowedModels)
{
    public string Incarnation { get; init; } = "";
}

/// <summary>A tenant as the configuration file defines it: what seeds the store at start.</summary>
public sealed record ConfiguredTenant(string Id, TenantLimits Limits, IReadOnlyList<string> Models, IReadOnlyList<string> Keys);

/// <summary>
/// The tenants of the configuration file. They seed the tenant store at start-up, and a tenant that exists
/// there already is left as it is, so changes made through the admin API survive restarts.
/// </summary>
public sealed class ConfiguredTenants
{
    private readonly FrozenDictionary<string, ConfiguredTenant> _byId;

    public ConfiguredTenants(RelayOptions options) =>
        _byId = options.Tenants.ToFrozenDictionary(
            t => t.Key, t => new ConfiguredTenant(t.Key, TenantLimits.From(t.Value), t.Value.Models.ToList(), t.Value.Keys.ToList()), StringComparer.Ordinal);

    public IEnumerable<ConfiguredTenant> All => _byId.Values;

    /// <summary>
    /// Whether the configuration gives this tenant no budget (the only tenants fail-open may serve). A tenant
    /// the file does not define counts as budgeted: without the store nothing is known of it.
    /// </summary>
    public bool HasNoBudget(string tenantId) => _byId.TryGetValue(tenantId, out var tenant) && tenant.Limits.MonthlyBudgetNanos is null;

    /// <summary>
    /// Creates each configured tenant the directory does not know yet, with its keys and limits. A tenant or key an
    /// admin deleted is never created again (the directory's tombstones): only an explicit create brings an id back.
    /// </summary>
    public async Task SeedAsync(ITenantDirectory directory, ITenantGrainFactory grains, long createdAt)
    {
        foreach (var tenant in All)
        {
            var keys = tenant.Keys.Select(k => ApiKeys.From(k, createdAt)).ToList();
            await TenantCreation.CreateConfiguredAsync(directory, grains, new TenantEntry(tenant.Id, tenant.Models, createdAt), keys, tenant.Limits);
        }
    }
}
