using System.Buffers;
using System.Globalization;
using System.Text.Json;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Silo.Alerts;

/// <summary>
/// The JSON body of a budget webhook:
/// <c>{"id", "type": "budget.alert"|"budget.pause", "tenant", "month", "threshold", "spent_usd", "budget_usd", "time", "text"}</c>.
/// <c>id</c> is the idempotency key (<see cref="BudgetCrossing.EventId"/>; a redelivery repeats it), <c>time</c> when the
/// threshold was crossed (ISO 8601, UTC), and <c>text</c> a one-line summary in Slack's mrkdwn, so a Slack incoming
/// webhook posts it as is (Slack reads <c>text</c> and ignores the rest).
/// </summary>
internal static class AlertPayload
{
    public static byte[] Json(string tenantId, BudgetCrossing crossing)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("id", crossing.EventId(tenantId));
            json.WriteString("type", "budget." + crossing.Kind);
            json.WriteString("tenant", tenantId);
            json.WriteString("month", crossing.Month);
            json.WriteNumber("threshold", crossing.Threshold);
            json.WriteNumber("spent_usd", Money.ToUsd(crossing.SpentNanos));
            json.WriteNumber("budget_usd", Money.ToUsd(crossing.BudgetNanos));
            json.WriteString("time", Time(crossing.CrossedAtMs));
            json.WriteString("text", Text(tenantId, crossing));
            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The one-line summary, e.g. "Budget alert: tenant `acme` has spent $80.00 of its $100.00 budget for 2026-11 (alert threshold 80%)."</summary>
    public static string Text(string tenantId, BudgetCrossing crossing)
    {
        var spent = Usd(crossing.SpentNanos);
        var budget = Usd(crossing.BudgetNanos);
        var threshold = crossing.Threshold.ToString("0.##%", CultureInfo.InvariantCulture);
        return crossing.Kind == BudgetCrossing.Pause
            ? $":no_entry: Budget pause: tenant `{tenantId}` was paused after spending {spent} of its {budget} budget for {crossing.Month} (pause threshold {threshold}). Its requests are refused until an admin resumes it or raises the budget."
            : $":warning: Budget alert: tenant `{tenantId}` has spent {spent} of its {budget} budget for {crossing.Month} (alert threshold {threshold}).";
    }

    /// <summary>Dollars with cents, and more digits only where a small amount needs them ($0.000042).</summary>
    public static string Usd(long nanos) => "$" + Money.ToUsd(nanos).ToString("#,0.00####", CultureInfo.InvariantCulture);

    public static string Time(long unixMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
