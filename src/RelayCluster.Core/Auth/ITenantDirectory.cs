namespace RelayCluster.Core.Auth;

/// <summary>
/// A tenant as the directory keeps it. Limits and pause live in the tenant grain, not here. <see cref="Incarnation"/>
/// tells apart tenants that had the same id one after another (see <see cref="TenantIncarnation"/>); "" for tenants
/// made before incarnations existed and for configured tenants seeded with no history.
/// </summary>
public sealed record TenantEntry(string Id, IReadOnlyList<string> Models, long CreatedAt)
{
    public string Incarnation { get; init; } = "";
}

/// <summary>An API key as admins see it: never the key, only its id and a recognisable prefix.</summary>
public sealed record ApiKeyEntry(string Id, string Prefix, long CreatedAt);

/// <summary>A key being added: its hash (the only form stored) and what admins will see of it.</summary>
public sealed record NewApiKey(string Hash, ApiKeyEntry Entry);

/// <summary>
/// Who the tenants are and which key belongs to whom. Every write is atomic and announces itself through
/// <see cref="Changed"/> on every silo (pub/sub in the cluster), which is how caches stay exact.
/// </summary>
public partial interface ITenantDirectory
{
    Task<string?> FindTenantIdAsync(string keyHash);

    Task<TenantEntry?> GetAsync(string tenantId);

    Task<IReadOnlyList<string>> ListAsync();

    /// <summary>
    /// Creates a tenant with its keys (an explicit create, the admin API's): false if the id exists already (nothing
    /// is changed then). A deleted id may be created again this way; that lifts its tombstone.
    /// </summary>
    Task<bool> CreateAsync(TenantEntry tenant, IReadOnlyList<NewApiKey> keys);

    Task<bool> SetModelsAsync(string tenantId, IReadOnlyList<string> models);

    /// <summary>
    /// Removes the tenant and revokes all its keys, and records the deletion (a tombstone), so seeding from the
    /// configuration never brings it back; its keys' hashes are recorded as revoked too. Its usage history is kept.
    /// </summary>
    Task<bool> DeleteAsync(string tenantId);

    Task<bool> AddKeyAsync(string tenantId, NewApiKey key);

    /// <summary>Revokes a key and records its hash as revoked, so seeding from the configuration never brings it back.</summary>
    Task<bool> RevokeKeyAsync(string tenantId, string keyId);

    Task<IReadOnlyList<ApiKeyEntry>> ListKeysAsync(string tenantId);

    /// <summary>Raised on this silo after any silo changed the directory (the cache drops what it holds).</summary>
    event Action? Changed;
}

/// <summary>Makes API keys: random secrets shown once, stored as hashes.</summary>
public static class ApiKeys
{
    public static (string Key, NewApiKey Stored) Generate(long createdAt)
    {
        var key = "sk-relay-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));
        return (key, From(key, createdAt));
    }

    /// <summary>The stored form of a key: its hash, an id derived from the hash, and a prefix to recognise it by.</summary>
    public static NewApiKey From(string key, long createdAt)
    {
        var hash = ApiKeyHash.Of(key);
        return new NewApiKey(hash, new ApiKeyEntry(ApiKeyIds.FromHash(hash), ApiKeyHash.Redact(key), createdAt));
    }
}
