using System.Globalization;
using System.Text.Json.Serialization;

namespace RelayCluster.Core.Tenants;

/// <summary>
/// A budget threshold a tenant's spend crossed, decided in the settle turn that booked the cost and committed with it,
/// and the outbox entry of its webhook: what the grain still has to deliver. Stored as JSON by every journal (these
/// names are also the admin API's).
/// </summary>
/// <param name="Kind"><see cref="Alert"/> or <see cref="Pause"/>.</param>
/// <param name="Sequence">1 for the month's first crossing of this kind; 2, 3, … after an admin re-armed it (the event id says which).</param>
/// <param name="Threshold">The fraction of the budget in force when it was crossed, in (0, 1].</param>
/// <param name="Month">The budget month (<c>YYYY-MM</c>, UTC).</param>
/// <param name="CrossedAtMs">When (Unix ms, the tenants' clock).</param>
/// <param name="SpentNanos">Spend of the month right after the settle that crossed it (nano-dollars).</param>
/// <param name="BudgetNanos">The monthly budget then (nano-dollars).</param>
/// <param name="Rearmed">An admin change put spend below the threshold again: this crossing no longer counts, the next one alerts.</param>
/// <param name="Delivery">Where its webhook delivery stands.</param>
/// <param name="Incarnation">The incarnation of the tenant id that crossed it ("" for tenants older than incarnations, and crossings stored before this field).</param>
[GenerateSerializer, Immutable, Alias("relay.budget-crossing")]
public sealed record BudgetCrossing(
    [property: Id(0), JsonPropertyName("kind")] string Kind,
    [property: Id(1), JsonPropertyName("sequence")] int Sequence,
    [property: Id(2), JsonPropertyName("threshold")] double Threshold,
    [property: Id(3), JsonPropertyName("month")] string Month,
    [property: Id(4), JsonPropertyName("crossed_at")] long CrossedAtMs,
    [property: Id(5), JsonPropertyName("spent_nanos")] long SpentNanos,
    [property: Id(6), JsonPropertyName("budget_nanos")] long BudgetNanos,
    [property: Id(7), JsonPropertyName("rearmed")] bool Rearmed,
    [property: Id(8), JsonPropertyName("delivery")] AlertDelivery Delivery,
    [property: Id(9), JsonPropertyName("incarnation")] string Incarnation = "")
{
    /// <summary>The alert threshold's kind (webhook type <c>budget.alert</c>).</summary>
    public const string Alert = "alert";

    /// <summary>The auto-pause threshold's kind (webhook type <c>budget.pause</c>).</summary>
    public const string Pause = "pause";

    /// <summary>
    /// The webhook's idempotency key: <c>{tenant}@{incarnation}:{month}:{kind}</c> (the incarnation's first 8 characters;
    /// <c>{tenant}</c> alone without one), with <c>:{sequence}</c> after a re-arm, so a receiver drops a redelivery (delivery
    /// is at least once) but not a new crossing, nor the crossing of a tenant deleted and created again under the same id
    /// in the same month (tenant ids hold no <c>@</c>).
    /// </summary>
    public string EventId(string tenantId)
    {
        // Null when JSON stored before this field says "incarnation": null (a missing one reads as "").
        var tenant = string.IsNullOrEmpty(Incarnation) ? tenantId : $"{tenantId}@{Incarnation[..Math.Min(8, Incarnation.Length)]}";
        return Sequence <= 1 ? $"{tenant}:{Month}:{Kind}" : $"{tenant}:{Month}:{Kind}:{Sequence}";
    }

    /// <summary>Whether this is the same crossing as <paramref name="other"/> (its delivery may differ).</summary>
    public bool SameAs(BudgetCrossing other) => Kind == other.Kind && Month == other.Month && Sequence == other.Sequence;
}

/// <summary>
/// Where a crossing's webhook delivery stands: <c>pending</c> (to try, again after a failure), <c>delivered</c> (a 2xx),
/// <c>failed</c> (every attempt failed), or <c>no_webhook</c> (neither the tenant nor the relay configures one). Times in
/// Unix ms; <see cref="LastError"/> never holds the URL.
/// </summary>
[GenerateSerializer, Immutable, Alias("relay.alert-delivery")]
public sealed record AlertDelivery(
    [property: Id(0), JsonPropertyName("status")] string Status,
    [property: Id(1), JsonPropertyName("attempts")] int Attempts = 0,
    [property: Id(2), JsonPropertyName("last_attempt_at")] long? LastAttemptAtMs = null,
    [property: Id(3), JsonPropertyName("last_error")] string? LastError = null,
    [property: Id(4), JsonPropertyName("next_attempt_at")] long? NextAttemptAtMs = null,
    [property: Id(5), JsonPropertyName("delivered_at")] long? DeliveredAtMs = null)
{
    public const string Pending = "pending";
    public const string Delivered = "delivered";
    public const string Failed = "failed";
    public const string NoWebhook = "no_webhook";

    public static AlertDelivery New { get; } = new(Pending);

    [JsonIgnore]
    public bool IsPending => Status == Pending;
}

/// <summary>Why a paused tenant is paused, when its pause threshold did it: spend and budget now, and the threshold.</summary>
[GenerateSerializer, Immutable, Alias("relay.budget-pause")]
public sealed record BudgetPause([property: Id(0)] long SpentNanos, [property: Id(1)] long BudgetNanos, [property: Id(2)] double Threshold);

/// <summary>
/// A tenant's budget alerts as admins read them: the thresholds in force (<see cref="TenantLimits"/>' own, or the relay's
/// defaults where the tenant sets none), whether the tenant has its own webhook, the pause and its cause, the month's
/// spend and budget, and the crossings with their deliveries (this month's, and an older month's still being delivered).
/// </summary>
[GenerateSerializer, Immutable, Alias("relay.budget-alerts")]
public sealed record BudgetAlerts(
    [property: Id(0)] double AlertThreshold,
    [property: Id(1)] double PauseThreshold,
    [property: Id(2)] bool AlertThresholdIsDefault,
    [property: Id(3)] bool PauseThresholdIsDefault,
    [property: Id(4)] string? WebhookUrl,
    [property: Id(5)] bool Paused,
    [property: Id(6)] bool PausedByThreshold,
    [property: Id(7)] string Month,
    [property: Id(8)] long SpentNanos,
    [property: Id(9)] long? BudgetNanos,
    [property: Id(10)] IReadOnlyList<BudgetCrossing> Crossings)
{
    /// <summary>What <c>ToString()</c> prints: everything but the webhook's URL (a secret).</summary>
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append(CultureInfo.InvariantCulture,
            $"AlertThreshold = {AlertThreshold}, PauseThreshold = {PauseThreshold}, AlertThresholdIsDefault = {AlertThresholdIsDefault}, PauseThresholdIsDefault = {PauseThresholdIsDefault}, WebhookUrl = {TenantLimits.Redacted(WebhookUrl)}, Paused = {Paused}, PausedByThreshold = {PausedByThreshold}, Month = {Month}, SpentNanos = {SpentNanos}, BudgetNanos = {BudgetNanos}, Crossings = {Crossings.Count}");
        return true;
    }
}

[JsonSerializable(typeof(List<BudgetCrossing>))]
internal sealed partial class BudgetCrossingJsonContext : JsonSerializerContext;

/// <summary>Crossings as the journals store them: a JSON array (absent or unreadable: none).</summary>
public static class BudgetCrossingJson
{
    public static string Write(IReadOnlyList<BudgetCrossing> crossings) =>
        System.Text.Json.JsonSerializer.Serialize(crossings as List<BudgetCrossing> ?? [.. crossings], BudgetCrossingJsonContext.Default.ListBudgetCrossing);

    public static List<BudgetCrossing> Read(string? json)
    {
        if (string.IsNullOrEmpty(json))
        {
            return [];
        }

        try
        {
            return Readable(System.Text.Json.JsonSerializer.Deserialize(json, BudgetCrossingJsonContext.Default.ListBudgetCrossing) ?? []);
        }
        catch (System.Text.Json.JsonException)
        {
            return []; // written by this code only; an unreadable value loses the outbox, never the tenant
        }
    }

    /// <summary>
    /// The crossings that have what every reader needs (a JSON value missing a field reads it as null): one without is
    /// dropped, as an unreadable value is, so it never fails the tenant's activation.
    /// </summary>
    public static List<BudgetCrossing> Readable(IEnumerable<BudgetCrossing?> crossings) =>
        [.. crossings.Where(c => c is { Kind: not null, Month: not null, Delivery.Status: not null }).Select(c => c!)];
}
