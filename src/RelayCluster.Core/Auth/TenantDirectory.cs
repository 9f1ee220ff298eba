using System.Collections.Frozen;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Routing;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Core.Auth;

/// <summary>A tenant as the relay needs it on every request: id, limits and allowed models.</summary>
public sealed record Tenant(string Id, TenantLimits Limits, ModelPatterns AllowedModels);

/// <summary>
/// Finds the tenant of a presented key by its hash. Built once from configuration; plaintext keys are
/// dropped after hashing.
/// </summary>
public sealed class TenantDirectory : ITenantLimitsSource
{
    private readonly FrozenDictionary<string, Tenant> _byKeyHash;
    private readonly FrozenDictionary<string, Tenant> _byId;

    public TenantDirectory(RelayOptions options)
    {
        var tenants = options.Tenants.ToDictionary(
            t => t.Key, t => new Tenant(t.Key, TenantLimits.From(t.Value), new ModelPatterns(t.Value.Models)), StringComparer.Ordinal);
        _byId = tenants.ToFrozenDictionary(StringComparer.Ordinal);
        _byKeyHash = options.Tenants
            .SelectMany(t => t.Value.Keys.Select(key => (Hash: ApiKeyHash.Of(key), Tenant: tenants[t.Key])))
            .ToFrozenDictionary(k => k.Hash, k => k.Tenant, StringComparer.Ordinal);
    }

    public IEnumerable<Tenant> All => _byId.Values;

    public Tenant? FindByKey(string key) => _byKeyHash.GetValueOrDefault(ApiKeyHash.Of(key));

    public Tenant? FindById(string tenantId) => _byId.GetValueOrDefault(tenantId);

    public TenantLimits LimitsOf(string tenantId) => FindById(tenantId)?.Limits ?? TenantLimits.Unlimited;
}
