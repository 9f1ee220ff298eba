namespace RelayCluster.Core.Auth;

/// <summary>Tombstones and incarnations of the embedded directory, kept in its journal.</summary>
public sealed partial class MemoryTenantDirectory
{
    private readonly TenantJournal _journal;

    /// <summary>A directory whose tombstones last as long as the process (tests, tools).</summary>
    public MemoryTenantDirectory()
        : this(journalPath: null)
    {
    }

    /// <summary>
    /// A directory whose tenants, keys, tombstones and incarnations outlive the process in the journal at
    /// <paramref name="journalPath"/> (read now, appended on every change); null keeps them in memory.
    /// </summary>
    public MemoryTenantDirectory(string? journalPath)
    {
        _journal = new TenantJournal(journalPath);
        foreach (var (tenant, keys) in _journal.Tenants)
        {
            _tenants[tenant.Id] = tenant;
            _keysByTenant[tenant.Id] = keys.ToDictionary(k => k.Entry.Id, StringComparer.Ordinal);
            foreach (var key in keys)
            {
                _tenantByKeyHash[key.Hash] = tenant.Id;
            }
        }
    }

    public Task<bool> CreateConfiguredAsync(TenantEntry tenant, IReadOnlyList<NewApiKey> keys) => Write(() =>
        !_journal.IsDeleted(tenant.Id) && Add(tenant, keys.Where(k => !_journal.IsRevoked(k.Hash)).ToList()));

    public Task<bool> IsDeletedAsync(string tenantId) => Read(() => _journal.IsDeleted(tenantId));

    public Task<string?> KnownIncarnationAsync(string tenantId) => Read(() => _journal.IncarnationOf(tenantId));

    /// <summary>
    /// The incarnation of the tenant with this id now: the live one, else the last one the journal knows (a deleted
    /// tenant's, so late work of that tenant stays with it), else "". Synchronous, for the memory grain factory.
    /// </summary>
    public string IncarnationOf(string tenantId)
    {
        lock (_gate)
        {
            return _tenants.TryGetValue(tenantId, out var tenant) ? tenant.Incarnation : _journal.IncarnationOf(tenantId) ?? "";
        }
    }
}
