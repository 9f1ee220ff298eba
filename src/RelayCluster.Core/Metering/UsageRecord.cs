using System.Text.Json.Serialization;

namespace RelayCluster.Core.Metering;

/// <summary>How an admitted request ended; every ending is settled exactly once.</summary>
public static class Endings
{
    public const string Completed = "completed";
    public const string ClientDisconnected = "client_disconnected";
    public const string UpstreamError = "upstream_error";
    public const string UpstreamErrorMidStream = "upstream_error_mid_stream";
    public const string UpstreamTruncated = "upstream_truncated";
    /// <summary>The relay itself failed (a bug): the request is settled with what it had consumed.</summary>
    public const string RelayError = "relay_error";

    /// <summary>Every ending, in the order reports show them.</summary>
    public static IReadOnlyList<string> All { get; } = [Completed, ClientDisconnected, UpstreamError, UpstreamErrorMidStream, UpstreamTruncated, RelayError];
}

/// <summary>One line of the usage log: one settled request. Crosses grain boundaries (a settle), hence the Orleans ids.</summary>
[GenerateSerializer, Immutable, Alias("relay.usage-record")]
public sealed record UsageRecord
{
    [Id(0), JsonPropertyName("ts")] public required long TimestampMs { get; init; }
    [Id(1), JsonPropertyName("tenant")] public required string Tenant { get; init; }
    /// <summary>
    /// Which tenant of that id (the embedded store stamps it; absent for tenants older than incarnations): a tenant
    /// created again with a deleted tenant's id starts its spend afresh while the log keeps the old records.
    /// </summary>
    [Id(2), JsonPropertyName("incarnation"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Incarnation { get; init; }
    [Id(3), JsonPropertyName("request_id")] public required string RequestId { get; init; }
    [Id(4), JsonPropertyName("endpoint")] public required string Endpoint { get; init; }
    [Id(5), JsonPropertyName("model")] public required string Model { get; init; }
    [Id(6), JsonPropertyName("upstream_model")] public required string UpstreamModel { get; init; }
    [Id(7), JsonPropertyName("provider")] public required string Provider { get; init; }
    [Id(8), JsonPropertyName("stream")] public bool Stream { get; init; }
    [Id(9), JsonPropertyName("prompt_tokens")] public long PromptTokens { get; init; }
    [Id(10), JsonPropertyName("completion_tokens")] public long CompletionTokens { get; init; }
    [Id(11), JsonPropertyName("cost_nanos")] public long CostNanos { get; init; }
    [JsonPropertyName("cost_usd")] public decimal CostUsd => Money.ToUsd(CostNanos);
    /// <summary>True when the upstream reported no usage and the relay counted it itself.</summary>
    [Id(12), JsonPropertyName("estimated")] public bool Estimated { get; init; }
    [Id(13), JsonPropertyName("ending")] public required string Ending { get; init; }
    [Id(14), JsonPropertyName("status")] public int Status { get; init; }
    [Id(15), JsonPropertyName("latency_ms")] public double LatencyMs { get; init; }
    [Id(16), JsonPropertyName("ttft_ms")] public double? TimeToFirstTokenMs { get; init; }
    /// <summary>The routed model name the caller asked for, when a route chose the target (<see cref="Model"/>).</summary>
    [Id(17), JsonPropertyName("route")] public string? Route { get; init; }
    /// <summary>The route's alternative in force for this request.</summary>
    [Id(18), JsonPropertyName("route_alternative")] public string? RouteAlternative { get; init; }
    /// <summary>Upstream calls made for this request over every target tried, retries included.</summary>
    [Id(19), JsonPropertyName("attempts")] public int Attempts { get; init; }
    /// <summary>Targets given up on before the one that answered (0: the first target answered).</summary>
    [Id(20), JsonPropertyName("fallbacks")] public int Fallbacks { get; init; }
    /// <summary>
    /// The upstream's usage details, as reported (absent when not): cached prompt tokens (billed at the model's cached-input
    /// price), reasoning tokens, audio tokens of the prompt and of the output, and accepted/rejected prediction tokens.
    /// </summary>
    [Id(21), JsonPropertyName("cached_tokens"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? CachedTokens { get; init; }
    [Id(22), JsonPropertyName("reasoning_tokens"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? ReasoningTokens { get; init; }
    [Id(23), JsonPropertyName("prompt_audio_tokens"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? PromptAudioTokens { get; init; }
    [Id(24), JsonPropertyName("completion_audio_tokens"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? CompletionAudioTokens { get; init; }
    [Id(25), JsonPropertyName("accepted_prediction_tokens"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? AcceptedPredictionTokens { get; init; }
    [Id(26), JsonPropertyName("rejected_prediction_tokens"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? RejectedPredictionTokens { get; init; }

    /// <summary>
    /// The call lane: <see cref="UsageLanes.Batch"/> for an item of a <c>/v1/batches</c> job (billed at the batch price),
    /// else <see cref="UsageLanes.Interactive"/>. Absent on records written before lanes were kept: those read as interactive.
    /// </summary>
    [Id(27), JsonPropertyName("lane"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Lane { get; init; }
}

/// <summary>The lanes a usage record can come from; a fixed set, so they are safe as hash fields and report columns.</summary>
public static class UsageLanes
{
    public const string Interactive = "interactive";

    /// <summary>Items of <c>/v1/batches</c> jobs. A synchronous <c>/v1/batch</c> runs on the interactive lane at the interactive price.</summary>
    public const string Batch = "batch";

    /// <summary>The lane of a record: anything but <see cref="Batch"/> (old records have none) is interactive.</summary>
    public static string Of(UsageRecord record) => record.Lane == Batch ? Batch : Interactive;
}

/// <summary>A tenant's usage over one month, as the admin API shows it.</summary>
public sealed record UsageSummary(
    [property: JsonPropertyName("tenant")] string Tenant,
    [property: JsonPropertyName("month")] string Month,
    [property: JsonPropertyName("requests")] long Requests,
    [property: JsonPropertyName("prompt_tokens")] long PromptTokens,
    [property: JsonPropertyName("completion_tokens")] long CompletionTokens,
    [property: JsonPropertyName("cost_nanos")] long CostNanos,
    [property: JsonPropertyName("estimated_requests")] long EstimatedRequests,
    [property: JsonPropertyName("by_model")] IReadOnlyDictionary<string, ModelUsage> ByModel,
    [property: JsonPropertyName("by_ending")] IReadOnlyDictionary<string, long> ByEnding)
{
    [JsonPropertyName("cost_usd")] public decimal CostUsd => Money.ToUsd(CostNanos);

    /// <summary>Cached prompt tokens over the month, a part of <see cref="PromptTokens"/>: each record's as billed (at most its prompt, as the report and the daily view count them).</summary>
    [JsonPropertyName("cached_tokens")] public long CachedTokens { get; init; }

    /// <summary>Reasoning tokens over the month, as the upstreams reported them (a part of the billed output).</summary>
    [JsonPropertyName("reasoning_tokens")] public long ReasoningTokens { get; init; }
}

public sealed record ModelUsage(
    [property: JsonPropertyName("requests")] long Requests,
    [property: JsonPropertyName("prompt_tokens")] long PromptTokens,
    [property: JsonPropertyName("completion_tokens")] long CompletionTokens,
    [property: JsonPropertyName("cost_nanos")] long CostNanos);

[JsonSerializable(typeof(UsageRecord))]
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
public sealed partial class UsageJsonContext : JsonSerializerContext;
