using System.Text.Json.Nodes;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Silo.Alerts;

/// <summary>
/// A tenant's budget alerts as the admin API shows them (<c>alerts</c> of <c>GET /admin/tenants/{id}</c>, and
/// <c>GET /admin/tenants/{id}/alerts</c>):
/// <code>
/// { "alert_threshold": 0.8, "pause_threshold": 0.95, "alert_threshold_default": true, "pause_threshold_default": true,
///   "webhook": { "source": "tenant"|"relay"|"none", "url": "https://hooks.slack.com/…" (redacted) },
///   "paused_by": "threshold"|"admin"|null, "month": "2026-11", "spent_usd": 81.2, "budget_usd": 100,
///   "crossings": [ { "id", "type": "budget.alert"|"budget.pause", "kind", "sequence", "threshold", "month",
///                    "crossed_at" (Unix ms), "time" (ISO 8601), "spent_usd", "budget_usd", "rearmed",
///                    "delivery": { "status": "pending"|"delivered"|"failed"|"no_webhook", "attempts",
///                                  "last_attempt_at", "last_error", "next_attempt_at", "delivered_at" (Unix ms or null) } } ] }
/// </code>
/// </summary>
internal static class AlertsView
{
    public static JsonObject From(string tenantId, BudgetAlerts alerts, AlertOptions options)
    {
        var (source, url) = alerts.WebhookUrl is { } own ? ("tenant", own)
            : !string.IsNullOrWhiteSpace(options.WebhookUrl) ? ("relay", options.WebhookUrl) : ("none", null);
        return new JsonObject
        {
            ["object"] = "tenant.alerts",
            ["alert_threshold"] = alerts.AlertThreshold,
            ["pause_threshold"] = alerts.PauseThreshold,
            ["alert_threshold_default"] = alerts.AlertThresholdIsDefault,
            ["pause_threshold_default"] = alerts.PauseThresholdIsDefault,
            ["webhook"] = new JsonObject { ["source"] = source, ["url"] = Redact(url) },
            ["paused_by"] = !alerts.Paused ? null : alerts.PausedByThreshold ? "threshold" : "admin",
            ["month"] = alerts.Month,
            ["spent_usd"] = Money.ToUsd(alerts.SpentNanos),
            ["budget_usd"] = alerts.BudgetNanos is { } budget ? Money.ToUsd(budget) : null,
            ["crossings"] = new JsonArray([.. alerts.Crossings.Select(c => (JsonNode)Crossing(tenantId, c))]),
        };
    }

    /// <summary>Scheme and host only: the path and query of a webhook URL carry its secret (Slack's do), and user info may too.</summary>
    public static string? Redact(string? url) =>
        url is null ? null
        : Uri.TryCreate(url, UriKind.Absolute, out var uri) ? $"{uri.Scheme}://{uri.Host}{(uri.IsDefaultPort ? "" : ":" + uri.Port)}/…"
        : "…";

    private static JsonObject Crossing(string tenantId, BudgetCrossing c) => new()
    {
        ["id"] = c.EventId(tenantId),
        ["type"] = "budget." + c.Kind,
        ["kind"] = c.Kind,
        ["sequence"] = c.Sequence,
        ["threshold"] = c.Threshold,
        ["month"] = c.Month,
        ["crossed_at"] = c.CrossedAtMs,
        ["time"] = AlertPayload.Time(c.CrossedAtMs),
        ["spent_usd"] = Money.ToUsd(c.SpentNanos),
        ["budget_usd"] = Money.ToUsd(c.BudgetNanos),
        ["rearmed"] = c.Rearmed,
        ["delivery"] = new JsonObject
        {
            ["status"] = c.Delivery.Status,
            ["attempts"] = c.Delivery.Attempts,
            ["last_attempt_at"] = c.Delivery.LastAttemptAtMs,
            ["last_error"] = c.Delivery.LastError,
            ["next_attempt_at"] = c.Delivery.NextAttemptAtMs,
            ["delivered_at"] = c.Delivery.DeliveredAtMs,
        },
    };
}
