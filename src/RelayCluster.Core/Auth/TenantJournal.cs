using System.Text.Json;
using System.Text.Json.Serialization;

namespace RelayCluster.Core.Auth;

/// <summary>
/// The embedded directory's memory across restarts: one JSON line per event (a tenant created with its incarnation, a
/// tenant deleted, a key hash revoked), appended and flushed under the directory's lock, replayed at start. Admin
/// writes are rare, so a line per write costs nothing that matters; a torn last line (a crash mid-write) is skipped.
/// Callers hold the directory's lock.
/// </summary>
internal sealed class TenantJournal
{
    private readonly string? _path;
    private readonly HashSet<string> _deleted = new(StringComparer.Ordinal);
    private readonly HashSet<string> _revoked = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _incarnations = new(StringComparer.Ordinal);

    public TenantJournal(string? path)
    {
        _path = path;
        if (path is null || !File.Exists(path))
        {
            return;
        }

        foreach (var line in File.ReadLines(path))
        {
            try
            {
                if (line.Length > 0 && JsonSerializer.Deserialize(line, TenantJournalJsonContext.Default.JournalLine) is { } entry)
                {
                    Apply(entry);
                }
            }
            catch (JsonException)
            {
                // Only the last line can be torn, by a crash in the middle of its write.
            }
        }
    }

    public bool IsDeleted(string tenantId) => _deleted.Contains(tenantId);

    public bool IsRevoked(string keyHash) => _revoked.Contains(keyHash);

    public string? IncarnationOf(string tenantId) => _incarnations.GetValueOrDefault(tenantId);

    public void Created(string tenantId, string incarnation)
    {
        if (!_deleted.Contains(tenantId) && (_incarnations.GetValueOrDefault(tenantId) ?? "") == incarnation)
        {
            return; // a configured tenant seeded again at start (or first, with no incarnation): nothing new to remember
        }

        Record(new JournalLine("create", tenantId, incarnation, null));
    }

    public void Deleted(string tenantId) => Record(new JournalLine("delete", tenantId, null, null));

    public void Revoked(string keyHash) => Record(new JournalLine("revoke", null, null, keyHash));

    private void Record(JournalLine entry)
    {
        if (_path is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(_path))!);
            using var stream = new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.Read);
            JsonSerializer.Serialize(stream, entry, TenantJournalJsonContext.Default.JournalLine);
            stream.WriteByte((byte)'\n');
            stream.Flush(flushToDisk: true); // a delete the admin was told about must survive a power loss too
        }

        Apply(entry);
    }

    private void Apply(JournalLine entry)
    {
        switch (entry.Op)
        {
            case "create" when entry.Tenant is not null:
                _deleted.Remove(entry.Tenant);
                _incarnations[entry.Tenant] = entry.Incarnation ?? "";
                break;
            case "delete" when entry.Tenant is not null:
                _deleted.Add(entry.Tenant);
                break;
            case "revoke" when entry.KeyHash is not null:
                _revoked.Add(entry.KeyHash);
                break;
        }
    }
}

internal sealed record JournalLine(
    [property: JsonPropertyName("op")] string Op,
    [property: JsonPropertyName("tenant")] string? Tenant,
    [property: JsonPropertyName("incarnation")] string? Incarnation,
    [property: JsonPropertyName("key_hash")] string? KeyHash);

[JsonSerializable(typeof(JournalLine))]
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
internal sealed partial class TenantJournalJsonContext : JsonSerializerContext;
