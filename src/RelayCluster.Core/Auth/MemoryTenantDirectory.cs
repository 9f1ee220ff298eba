namespace RelayCluster.Core.Auth;

/// <summary>
/// The embedded store's directory: dictionaries under one lock, changes announced in-process. Every change is also
/// appended to a journal (see <see cref="TenantJournal"/>) that the next process starts from: tenants with their models and
/// key hashes, added and revoked keys, deletes and incarnations. So, as on the Redis store, configuration seeds a tenant
/// once and an admin's changes survive restarts.
/// </summary>
public sealed partial class MemoryTenantDirectory : ITenantDirectory
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, TenantEntry> _tenants = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, NewApiKey>> _keysByTenant = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _tenantByKeyHash = new(StringComparer.Ordinal);

    public event Action? Changed;

    public Task<string?> FindTenantIdAsync(string keyHash) => Read(() => _tenantByKeyHash.GetValueOrDefault(keyHash));

    public Task<TenantEntry?> GetAsync(string tenantId) => Read(() => _tenants.GetValueOrDefault(tenantId));

    public Task<IReadOnlyList<string>> ListAsync() => Read<IReadOnlyList<string>>(() => _tenants.Keys.Order(StringComparer.Ordinal).ToList());

    public Task<IReadOnlyList<ApiKeyEntry>> ListKeysAsync(string tenantId) => Read<IReadOnlyList<ApiKeyEntry>>(() =>
        _keysByTenant.TryGetValue(tenantId, out var keys) ? keys.Values.Select(k => k.Entry).ToList() : []);

    public Task<bool> CreateAsync(TenantEntry tenant, IReadOnlyList<NewApiKey> keys) => Write(() => Add(tenant, keys));

    public Task<bool> SetModelsAsync(string tenantId, IReadOnlyList<string> models) => Write(() =>
    {
        if (!_tenants.TryGetValue(tenantId, out var tenant))
        {
            return false;
        }

        _tenants[tenantId] = tenant with { Models = models };
        _journal.ModelsSet(tenantId, models);
        return true;
    });

    public Task<bool> DeleteAsync(string tenantId) => Write(() =>
    {
        if (!_tenants.Remove(tenantId))
        {
            return false;
        }

        foreach (var key in _keysByTenant[tenantId].Values)
        {
            _tenantByKeyHash.Remove(key.Hash);
            _journal.Revoked(key.Hash); // a deleted tenant's keys never work again, even for a tenant re-created with its id
        }

        _keysByTenant.Remove(tenantId);
        _journal.Deleted(tenantId);
        return true;
    });

    public Task<bool> AddKeyAsync(string tenantId, NewApiKey key) => Write(() =>
    {
        if (!_keysByTenant.TryGetValue(tenantId, out var keys) || !_tenantByKeyHash.TryAdd(key.Hash, tenantId))
        {
            return false;
        }

        keys[key.Entry.Id] = key;
        _journal.KeyAdded(tenantId, key);
        return true;
    });

    public Task<bool> RevokeKeyAsync(string tenantId, string keyId) => Write(() =>
    {
        if (!_keysByTenant.TryGetValue(tenantId, out var keys) || !keys.Remove(keyId, out var key))
        {
            return false;
        }

        _tenantByKeyHash.Remove(key.Hash);
        _journal.Revoked(key.Hash);
        return true;
    });

    private bool Add(TenantEntry tenant, IReadOnlyList<NewApiKey> keys)
    {
        if (_tenants.ContainsKey(tenant.Id) || keys.Any(k => _tenantByKeyHash.ContainsKey(k.Hash)))
        {
            return false;
        }

        _tenants[tenant.Id] = tenant;
        _keysByTenant[tenant.Id] = keys.ToDictionary(k => k.Entry.Id, StringComparer.Ordinal);
        keys.ToList().ForEach(k => _tenantByKeyHash[k.Hash] = tenant.Id);
        _journal.Created(tenant, keys);
        return true;
    }

    private Task<T> Read<T>(Func<T> read)
    {
        lock (_gate)
        {
            return Task.FromResult(read());
        }
    }

    private Task<bool> Write(Func<bool> write)
    {
        bool changed;
        lock (_gate)
        {
            changed = write();
        }

        if (changed)
        {
            Changed?.Invoke();
        }

        return Task.FromResult(changed);
    }
}
