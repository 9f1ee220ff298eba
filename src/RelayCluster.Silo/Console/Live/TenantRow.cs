using System.Text.Json.Serialization;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Silo.Console.Live;

/// <summary>
/// One tenant as the admin hub shows it: limits and live usage, as of <see cref="UpdatedAt"/> (Unix ms, the turn that
/// built it). Wire shape (snake_case; a null limit is unlimited, <c>paused_by</c> is null unless paused):
/// <code>
/// {"id","paused","paused_by":null|"admin"|"threshold","month":"YYYY-MM",
///  "limits":{"requests_per_minute","tokens_per_minute","max_concurrent","monthly_budget_usd"},
///  "requests_in_window","tokens_in_window","in_flight","reserved_usd","spent_usd",
///  "alert_threshold","pause_threshold","updated_at"}
/// </code>
/// Built by the tenant grain in its own turn (<see cref="From"/>), carried between silos by Orleans, sent by SignalR.
/// Rows of one tenant can arrive out of order only around a watch's start: keep the one with the later
/// <c>updated_at</c>.
/// </summary>
[GenerateSerializer, Immutable, Alias("relay.live.tenant-row")]
public sealed record TenantRow(
    [property: Id(0), JsonPropertyName("id")] string Id,
    [property: Id(1), JsonPropertyName("paused")] bool Paused,
    [property: Id(2), JsonPropertyName("paused_by"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? PausedBy,
    [property: Id(3), JsonPropertyName("month")] string Month,
    [property: Id(4), JsonPropertyName("limits")] TenantRowLimits Limits,
    [property: Id(5), JsonPropertyName("requests_in_window")] long RequestsInWindow,
    [property: Id(6), JsonPropertyName("tokens_in_window")] long TokensInWindow,
    [property: Id(7), JsonPropertyName("in_flight")] int InFlight,
    [property: Id(8), JsonPropertyName("reserved_usd")] decimal ReservedUsd,
    [property: Id(9), JsonPropertyName("spent_usd")] decimal SpentUsd,
    [property: Id(10), JsonPropertyName("alert_threshold")] double AlertThreshold,
    [property: Id(11), JsonPropertyName("pause_threshold")] double PauseThreshold,
    [property: Id(12), JsonPropertyName("updated_at")] long UpdatedAt)
{
    /// <summary>The row of a quota and alerts read in one turn at <paramref name="nowMs"/>.</summary>
    public static TenantRow From(QuotaSnapshot quota, BudgetAlerts alerts, long nowMs) => new(
        quota.TenantId, quota.Paused, !quota.Paused ? null : alerts.PausedByThreshold ? "threshold" : "admin", quota.Month,
        new TenantRowLimits(quota.Limits.RequestsPerMinute, quota.Limits.TokensPerMinute, quota.Limits.MaxConcurrent,
            quota.Limits.MonthlyBudgetNanos is { } budget ? Money.ToUsd(budget) : null),
        quota.RequestsInWindow, quota.TokensInWindow, quota.InFlight, Money.ToUsd(quota.ReservedNanos), Money.ToUsd(quota.SpentNanos),
        alerts.AlertThreshold, alerts.PauseThreshold, nowMs);
}

/// <summary>A tenant's limits in a <see cref="TenantRow"/>; null is unlimited (the admin API's <c>limits</c> shape).</summary>
[GenerateSerializer, Immutable, Alias("relay.live.tenant-row-limits")]
public sealed record TenantRowLimits(
    [property: Id(0), JsonPropertyName("requests_per_minute"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] int? RequestsPerMinute,
    [property: Id(1), JsonPropertyName("tokens_per_minute"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] int? TokensPerMinute,
    [property: Id(2), JsonPropertyName("max_concurrent"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] int? MaxConcurrent,
    [property: Id(3), JsonPropertyName("monthly_budget_usd"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] decimal? MonthlyBudgetUsd);

/// <summary>
/// What one silo's grains changed since its last flush, on its way to the silos holding admin connections: the latest
/// row per tenant, tenants deleted, the latest state per batch.
/// </summary>
[GenerateSerializer, Immutable, Alias("relay.live.update")]
public sealed record LiveUpdate(
    [property: Id(0)] TenantRow[] Tenants,
    [property: Id(1)] string[] RemovedTenants,
    [property: Id(2)] Core.Batches.BatchState[] Batches);
