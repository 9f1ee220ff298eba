using System.Text.Json;
using System.Text.Json.Serialization;

namespace RelayCluster.Core.Auth;

/// <summary>
/// The embedded directory's memory across restarts: one JSON line per event (a tenant created with its models, incarnation
/// and key hashes; models changed; a key added; a key revoked; a tenant deleted), appended and flushed under the
/// directory's lock, replayed at start into the tenants and keys the directory starts with. Admin writes are rare, so a
/// line per write costs nothing that matters; a torn last line (a crash mid-write) is skipped. Journals written before
/// tenants were journalled whole (a "create" line with only an incarnation) still replay their tombstones and incarnations.
/// Callers hold the directory's lock.
/// </summary>
internal sealed class TenantJournal
{
    private readonly string? _path;
    private readonly HashSet<string> _deleted = new(StringComparer.Ordinal);
    private readonly HashSet<string> _revoked = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _incarnations = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (TenantEntry Tenant, Dictionary<string, NewApiKey> Keys)> _tenants = new(StringComparer.Ordinal);

    public TenantJournal(string? path)
    {
        _path = path;
        foreach (var entry in JsonLinesFile.Read(path, TenantJournalJsonContext.Default.JournalLine))
        {
            Apply(entry);
        }
    }

    /// <summary>The tenants and keys the journal holds (as of the last line), for the directory to start from.</summary>
    public IEnumerable<(TenantEntry Tenant, IReadOnlyList<NewApiKey> Keys)> Tenants =>
        _tenants.Values.Select(t => (t.Tenant, (IReadOnlyList<NewApiKey>)[.. t.Keys.Values]));

    public bool IsDeleted(string tenantId) => _deleted.Contains(tenantId);

    public bool IsRevoked(string keyHash) => _revoked.Contains(keyHash);

    public string? IncarnationOf(string tenantId) => _incarnations.GetValueOrDefault(tenantId);

    public void Created(TenantEntry tenant, IReadOnlyList<NewApiKey> keys) =>
        Record(new JournalLine("create", tenant.Id, tenant.Incarnation, null)
        {
            Models = [.. tenant.Models], CreatedAt = tenant.CreatedAt, Keys = [.. keys.Select(JournalKey.From)],
        });

    public void ModelsSet(string tenantId, IReadOnlyList<string> models) =>
        Record(new JournalLine("models", tenantId, null, null) { Models = [.. models] });

    public void KeyAdded(string tenantId, NewApiKey key) => Record(new JournalLine("key", tenantId, null, key.Hash) { Keys = [JournalKey.From(key)] });

    public void Deleted(string tenantId) => Record(new JournalLine("delete", tenantId, null, null));

    public void Revoked(string keyHash) => Record(new JournalLine("revoke", null, null, keyHash));

    private void Record(JournalLine entry)
    {
        JsonLinesFile.Append(_path, entry, TenantJournalJsonContext.Default.JournalLine); // a delete the admin was told about must survive a power loss too
        Apply(entry);
    }

    private void Apply(JournalLine entry)
    {
        switch (entry.Op)
        {
            case "create" when entry.Tenant is not null:
                _deleted.Remove(entry.Tenant);
                _incarnations[entry.Tenant] = entry.Incarnation ?? "";
                if (entry.Models is { } models)
                {
                    var tenant = new TenantEntry(entry.Tenant, models, entry.CreatedAt) { Incarnation = entry.Incarnation ?? "" };
                    _tenants[entry.Tenant] = (tenant, (entry.Keys ?? []).Select(k => k.ToKey()).ToDictionary(k => k.Entry.Id, StringComparer.Ordinal));
                }

                break;
            case "models" when entry.Tenant is not null && entry.Models is { } changed && _tenants.TryGetValue(entry.Tenant, out var held):
                _tenants[entry.Tenant] = (held.Tenant with { Models = changed }, held.Keys);
                break;
            case "key" when entry.Tenant is not null && entry.Keys is [var added] && _tenants.TryGetValue(entry.Tenant, out var owner):
                owner.Keys[added.Id] = added.ToKey();
                break;
            case "delete" when entry.Tenant is not null:
                _deleted.Add(entry.Tenant);
                _tenants.Remove(entry.Tenant);
                break;
            case "revoke" when entry.KeyHash is not null:
                _revoked.Add(entry.KeyHash);
                foreach (var (_, keys) in _tenants.Values)
                {
                    foreach (var id in keys.Where(k => k.Value.Hash == entry.KeyHash).Select(k => k.Key).ToList())
                    {
                        keys.Remove(id);
                    }
                }

                break;
        }
    }
}

internal sealed record JournalLine(
    [property: JsonPropertyName("op")] string Op,
    [property: JsonPropertyName("tenant")] string? Tenant,
    [property: JsonPropertyName("incarnation")] string? Incarnation,
    [property: JsonPropertyName("key_hash")] string? KeyHash)
{
    [JsonPropertyName("models")] public List<string>? Models { get; init; }

    [JsonPropertyName("created_at")] public long CreatedAt { get; init; }

    /// <summary>Keys as stored: their hash and what admins see, never the key itself.</summary>
    [JsonPropertyName("keys")] public List<JournalKey>? Keys { get; init; }
}

internal sealed record JournalKey(
    [property: JsonPropertyName("hash")] string Hash,
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("prefix")] string Prefix,
    [property: JsonPropertyName("created_at")] long CreatedAt)
{
    public static JournalKey From(NewApiKey key) => new(key.Hash, key.Entry.Id, key.Entry.Prefix, key.Entry.CreatedAt);

    public NewApiKey ToKey() => new(Hash, new ApiKeyEntry(Id, Prefix, CreatedAt));
}

[JsonSerializable(typeof(JournalLine))]
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
internal sealed partial class TenantJournalJsonContext : JsonSerializerContext;
