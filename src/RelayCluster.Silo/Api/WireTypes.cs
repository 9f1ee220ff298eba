using System.Text.Json.Serialization;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Http;

namespace RelayCluster.Silo.Api;

public sealed record ModelObject(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("created")] long Created,
    [property: JsonPropertyName("owned_by")] string OwnedBy);

public sealed record ModelList(
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("data")] IReadOnlyList<ModelObject> Data);

public sealed record LimitsView(
    [property: JsonPropertyName("requests_per_minute")] int? RequestsPerMinute,
    [property: JsonPropertyName("tokens_per_minute")] int? TokensPerMinute,
    [property: JsonPropertyName("max_concurrent")] int? MaxConcurrent,
    [property: JsonPropertyName("monthly_budget_usd")] decimal? MonthlyBudgetUsd);

/// <summary>A tenant's quota as admins read it. Money in USD, with the exact nano-dollar counters beside.</summary>
public sealed record QuotaView(
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("tenant")] string Tenant,
    [property: JsonPropertyName("month")] string Month,
    [property: JsonPropertyName("limits")] LimitsView Limits,
    [property: JsonPropertyName("requests_in_window")] long RequestsInWindow,
    [property: JsonPropertyName("tokens_in_window")] long TokensInWindow,
    [property: JsonPropertyName("remaining_requests")] long? RemainingRequests,
    [property: JsonPropertyName("remaining_tokens")] long? RemainingTokens,
    [property: JsonPropertyName("reset_requests")] string ResetRequests,
    [property: JsonPropertyName("reset_tokens")] string ResetTokens,
    [property: JsonPropertyName("in_flight")] int InFlight,
    [property: JsonPropertyName("reserved_usd")] decimal ReservedUsd,
    [property: JsonPropertyName("spent_usd")] decimal SpentUsd,
    [property: JsonPropertyName("reserved_nanos")] long ReservedNanos,
    [property: JsonPropertyName("spent_nanos")] long SpentNanos)
{
    public static QuotaView From(QuotaSnapshot q) => new(
        "tenant.quota", q.TenantId, q.Month,
        new LimitsView(q.Limits.RequestsPerMinute, q.Limits.TokensPerMinute, q.Limits.MaxConcurrent,
            q.Limits.MonthlyBudgetNanos is { } budget ? Money.ToUsd(budget) : null),
        q.RequestsInWindow, q.TokensInWindow,
        q.Window.RequestLimit is null ? null : q.Window.RequestsRemaining,
        q.Window.TokenLimit is null ? null : q.Window.TokensRemaining,
        RateLimitHeaders.GoDuration(q.Window.RequestsReset), RateLimitHeaders.GoDuration(q.Window.TokensReset),
        q.InFlight, Money.ToUsd(q.ReservedNanos), Money.ToUsd(q.SpentNanos), q.ReservedNanos, q.SpentNanos);
}

[JsonSerializable(typeof(OpenAiErrorEnvelope))]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(ModelObject))]
[JsonSerializable(typeof(QuotaView))]
[JsonSerializable(typeof(UsageSummary))]
[JsonSerializable(typeof(FileObject))]
[JsonSerializable(typeof(FileList))]
[JsonSerializable(typeof(FileDeleted))]
[JsonSerializable(typeof(ClusterView))]
internal sealed partial class SiloJsonContext : JsonSerializerContext;
