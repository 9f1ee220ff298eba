namespace RelayCluster.Core.Auth;

/// <summary>A tenant as the directory keeps it. Limits and pause live in the tenant grain, not here.</summary>
public sealed record TenantEntry(string Id, IReadOnlyList<string> Models, long CreatedAt);

/// <summary>An API key as admins see it: never the key, only its id and a recognisable prefix.</summary>
public sealed record ApiKeyEntry(string Id, string Prefix, long CreatedAt);

/// <summary>A key being added: its hash (the only form stored) and what admins will see of it.</summary>
public sealed record NewApiKey(string Hash, ApiKeyEntry Entry);

/// <summary>
/// Who the tenants are and which key belongs to whom. Every write is atomic and announces itself through
/// <see cref="Changed"/> on every silo (pub/sub in the cluster), which is how caches stay exact.
/// </summary>
public interface ITenantDirectory
{
    Task<string?> FindTenantIdAsync(string keyHash);

    Task<TenantEntry?> GetAsync(string tenantId);

    Task<IReadOnlyList<string>> ListAsync();

    /// <summary>Creates a tenant with its keys; false if the id exists already (nothing is changed then).</summary>
    Task<bool> CreateAsync(TenantEntry tenant, IReadOnlyList<NewApiKey> keys);

    Task<bool> SetModelsAsync(string tenantId, IReadOnlyList<string> models);

    /// <summary>Removes the tenant and revokes all its keys. Its usage history is kept.</summary>
    Task<bool> DeleteAsync(string tenantId);

    Task<bool> AddKeyAsync(string tenantId, NewApiKey key);

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
