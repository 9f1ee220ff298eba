using System.Text.Json.Serialization;

namespace RelayCluster.Core.Tenants;

/// <summary>
/// What the embedded store keeps of each tenant grain besides its spend (which the usage log restores): limits, pause
/// and incarnation, one JSON line each time one of them changes, replayed at start, so an admin's changes survive a
/// restart (the directory's journal keeps the tenants and keys). Such changes are rare, so a line per change costs
/// nothing that matters; a torn last line (a crash mid-write) is skipped. Not thread-safe: the journal holds its lock.
/// </summary>
internal sealed class TenantSettingsLog
{
    private readonly string? _path;
    private readonly Dictionary<string, SettingsLine> _latest = new(StringComparer.Ordinal);

    public TenantSettingsLog(string? path)
    {
        _path = path;
        foreach (var entry in JsonLinesFile.Read(path, TenantSettingsJsonContext.Default.SettingsLine))
        {
            Apply(entry);
        }
    }

    /// <summary>The limits and pause last written for the tenant's <paramref name="incarnation"/>, if any.</summary>
    public (TenantLimits Limits, bool Paused)? Find(string tenantId, string incarnation) =>
        _latest.TryGetValue(tenantId, out var line) && line.Incarnation == incarnation
            ? (new TenantLimits(line.RequestsPerMinute, line.TokensPerMinute, line.MaxConcurrent, line.MonthlyBudgetNanos), line.Paused)
            : null;

    /// <summary>Writes the single values if limits, pause or incarnation differ from what was last written.</summary>
    public void Changed(string tenantId, TenantScalars state)
    {
        var line = new SettingsLine(tenantId, state.Incarnation, state.Limits.RequestsPerMinute, state.Limits.TokensPerMinute,
            state.Limits.MaxConcurrent, state.Limits.MonthlyBudgetNanos, state.Paused, Forgotten: false);
        if (!_latest.TryGetValue(tenantId, out var last) || last != line)
        {
            Record(line);
        }
    }

    /// <summary>A deleted tenant's settings are forgotten with it.</summary>
    public void Forgot(string tenantId)
    {
        if (_latest.ContainsKey(tenantId))
        {
            Record(new SettingsLine(tenantId, "", null, null, null, null, false, Forgotten: true));
        }
    }

    private void Record(SettingsLine line)
    {
        JsonLinesFile.Append(_path, line, TenantSettingsJsonContext.Default.SettingsLine); // the admin was told the change is made
        Apply(line);
    }

    private void Apply(SettingsLine line)
    {
        if (line.Forgotten)
        {
            _latest.Remove(line.Tenant);
        }
        else
        {
            _latest[line.Tenant] = line;
        }
    }
}

internal sealed record SettingsLine(
    [property: JsonPropertyName("tenant")] string Tenant,
    [property: JsonPropertyName("incarnation")] string Incarnation,
    [property: JsonPropertyName("rpm")] int? RequestsPerMinute,
    [property: JsonPropertyName("tpm")] int? TokensPerMinute,
    [property: JsonPropertyName("max_concurrent")] int? MaxConcurrent,
    [property: JsonPropertyName("budget_nanos")] long? MonthlyBudgetNanos,
    [property: JsonPropertyName("paused")] bool Paused,
    [property: JsonPropertyName("forgotten")] bool Forgotten);

[JsonSerializable(typeof(SettingsLine))]
internal sealed partial class TenantSettingsJsonContext : JsonSerializerContext;
