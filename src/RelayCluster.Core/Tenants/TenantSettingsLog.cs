using System.Text.Json.Serialization;

namespace RelayCluster.Core.Tenants;

/// <summary>
/// What the embedded store keeps of each tenant grain besides its spend (which the usage log restores): limits (with the
/// budget thresholds and webhook), pause and its cause, incarnation, and the budget crossings with their webhook
/// deliveries, one JSON line each time one of them changes, replayed at start, so an admin's changes, a threshold pause
/// and an undelivered alert survive a restart (the directory's journal keeps the tenants and keys). Such changes are
/// rare (a crossing and each delivery attempt are a line), so a line per change costs nothing that matters; a torn last
/// line (a crash mid-write) is skipped. Lines written before thresholds existed read as the defaults and no crossings.
/// Not thread-safe: the journal holds its lock.
/// </summary>
internal sealed class TenantSettingsLog
{
    private readonly string? _path;
    private readonly Dictionary<string, SettingsLine> _latest = new(StringComparer.Ordinal);

    public TenantSettingsLog(string? path)
    {
        _path = path;
        OwnerOnly(path);
        foreach (var entry in JsonLinesFile.Read(path, TenantSettingsJsonContext.Default.SettingsLine))
        {
            Apply(entry);
        }
    }

    /// <summary>The limits, pause and crossings last written for the tenant's <paramref name="incarnation"/>, if any.</summary>
    public (TenantLimits Limits, bool Paused, bool PausedByThreshold, IReadOnlyList<BudgetCrossing> Crossings)? Find(string tenantId, string incarnation) =>
        _latest.TryGetValue(tenantId, out var line) && line.Incarnation == incarnation
            ? (new TenantLimits(line.RequestsPerMinute, line.TokensPerMinute, line.MaxConcurrent, line.MonthlyBudgetNanos,
                line.AlertThreshold, line.PauseThreshold, line.AlertWebhookUrl), line.Paused, line.PausedByThreshold, line.Crossings ?? [])
            : null;

    /// <summary>Tenants whose last line holds a crossing whose webhook is still pending (a restart must deliver them).</summary>
    public IReadOnlyList<string> WithPendingDeliveries() =>
        [.. _latest.Values.Where(l => l.Crossings?.Any(c => c.Delivery.IsPending) == true).Select(l => l.Tenant)];

    /// <summary>Writes the single values and crossings if any of them differs from what was last written (spend and month never do: the usage log has them).</summary>
    public void Changed(string tenantId, TenantScalars state, IReadOnlyList<BudgetCrossing> crossings)
    {
        var limits = state.Limits;
        var line = new SettingsLine(tenantId, state.Incarnation, limits.RequestsPerMinute, limits.TokensPerMinute,
            limits.MaxConcurrent, limits.MonthlyBudgetNanos, state.Paused, Forgotten: false)
        {
            AlertThreshold = limits.AlertThreshold, PauseThreshold = limits.PauseThreshold, AlertWebhookUrl = limits.AlertWebhookUrl,
            PausedByThreshold = state.PausedByThreshold, Crossings = crossings.Count == 0 ? null : crossings,
        };
        if (!_latest.TryGetValue(tenantId, out var last) || !last.SameAs(line))
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

    /// <summary>
    /// The log holds tenants' webhook URLs (secrets): readable by the relay's user only, whether created now or by a
    /// version that wrote it with the default mode.
    /// </summary>
    private static void OwnerOnly(string? path)
    {
        if (path is null || OperatingSystem.IsWindows())
        {
            return;
        }

        const UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        if (File.Exists(path))
        {
            File.SetUnixFileMode(path, mode);
            return;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var created = new FileStream(path, new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.Write, UnixCreateMode = mode });
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
    [property: JsonPropertyName("forgotten")] bool Forgotten)
{
    [JsonPropertyName("alert_threshold")]
    public double? AlertThreshold { get; init; }

    [JsonPropertyName("pause_threshold")]
    public double? PauseThreshold { get; init; }

    /// <summary>A secret, in the data directory's private file like the rest of the tenant's state.</summary>
    [JsonPropertyName("alert_webhook_url")]
    public string? AlertWebhookUrl { get; init; }

    [JsonPropertyName("paused_by_threshold")]
    public bool PausedByThreshold { get; init; }

    [JsonPropertyName("crossings")]
    public IReadOnlyList<BudgetCrossing>? Crossings { get; init; }

    /// <summary>
    /// Equal values (a record compares lists by reference). Called on every embedded commit that changes spend: allocates
    /// nothing, and the crossings list is the book's own, replaced only when it changes, so it compares by reference first.
    /// </summary>
    public bool SameAs(SettingsLine other) =>
        Tenant == other.Tenant && Incarnation == other.Incarnation && RequestsPerMinute == other.RequestsPerMinute
        && TokensPerMinute == other.TokensPerMinute && MaxConcurrent == other.MaxConcurrent && MonthlyBudgetNanos == other.MonthlyBudgetNanos
        && Paused == other.Paused && Forgotten == other.Forgotten && AlertThreshold == other.AlertThreshold && PauseThreshold == other.PauseThreshold
        && AlertWebhookUrl == other.AlertWebhookUrl && PausedByThreshold == other.PausedByThreshold
        && (ReferenceEquals(Crossings, other.Crossings) || (Crossings ?? []).SequenceEqual(other.Crossings ?? []));
}

[JsonSerializable(typeof(SettingsLine))]
internal sealed partial class TenantSettingsJsonContext : JsonSerializerContext;
