using RelayCluster.Core.Metering;

namespace RelayCluster.Core.Tenants;

/// <summary>What the caller asks the tenant grain to admit: one request with its worst-case footprint.</summary>
/// <param name="RequestId">Unique per request; settles refer to it, so a second settle is a no-op.</param>
/// <param name="EstimatedTokens">Prompt estimate plus output cap, counted against TPM at admission.</param>
/// <param name="ReservedNanos">Worst-case cost, held against the budget until settle.</param>
/// <param name="CapacityShare">
/// Share (0–1] of the concurrency, RPM and TPM limits this request may fill. Batch work passes less than 1,
/// so that it takes only the capacity interactive traffic leaves, and never locks interactive calls out.
/// </param>
[GenerateSerializer, Immutable, Alias("relay.admission-request")]
public readonly record struct AdmissionRequest(
    [property: Id(0)] string RequestId, [property: Id(1)] long EstimatedTokens, [property: Id(2)] long ReservedNanos,
    [property: Id(3)] double CapacityShare = 1.0)
{
    /// <summary>A limit scaled to this request's share; a share never rounds a limit down to nothing.</summary>
    public long Share(long limit) => CapacityShare >= 1.0 ? limit : Math.Max(1, (long)Math.Floor(limit * CapacityShare));
}

[GenerateSerializer, Alias("relay.admission-outcome")]
public enum AdmissionOutcome
{
    Admitted,
    RequestsPerMinuteExceeded,
    TokensPerMinuteExceeded,
    /// <summary>One request needs more tokens than the whole per-minute limit: waiting cannot help.</summary>
    RequestLargerThanTokenLimit,
    ConcurrencyExceeded,
    BudgetExceeded,
    /// <summary>An admin paused the tenant, or its pause threshold did (<see cref="Admission.Pause"/> says which).</summary>
    Paused,

    /// <summary>
    /// The request itself is out of range (negative or absurd tokens or nano-dollars, a share outside (0, 1]):
    /// the grain refuses it whatever the caller computed, so no arithmetic slip upstream can buy capacity.
    /// </summary>
    ReservationOutOfRange,
}

/// <summary>
/// The bounds every tenant store enforces on what one request may reserve, in the grain's own turn. Both are
/// far above any real request (a model's output limit is at most 10 million tokens) and far below 2^53, so the
/// Redis store's Lua numbers (doubles) stay exact. Settlements are clamped to the same bounds.
/// </summary>
public static class ReservationLimits
{
    /// <summary>Most tokens one request may reserve or settle (a trillion).</summary>
    public const long MaxTokens = 1_000_000_000_000;

    /// <summary>Most nano-dollars one request may reserve or settle (one million dollars).</summary>
    public const long MaxNanos = 1_000_000_000_000_000;

    /// <summary>Whether a request is within the bounds; the grains refuse it otherwise.</summary>
    public static bool Admits(in AdmissionRequest request) =>
        !string.IsNullOrEmpty(request.RequestId)
        && request.EstimatedTokens is >= 0 and <= MaxTokens
        && request.ReservedNanos is >= 0 and <= MaxNanos
        && request.CapacityShare is > 0 and <= 1;
}

/// <summary>
/// The outcome of an admission turn, with the window state for the x-ratelimit-* headers. A refusal because the pause
/// threshold paused the tenant carries its cause in <see cref="Pause"/> (null otherwise, an admin's pause included).
/// </summary>
[GenerateSerializer, Immutable, Alias("relay.admission")]
public readonly record struct Admission(
    [property: Id(0)] AdmissionOutcome Outcome, [property: Id(1)] RateLimitState Window, [property: Id(2)] TimeSpan RetryAfter)
{
    [Id(3)]
    public BudgetPause? Pause { get; init; }

    public bool IsAdmitted => Outcome == AdmissionOutcome.Admitted;
}

/// <summary>The request and token windows as x-ratelimit-* headers report them. Null limit: unlimited.</summary>
[GenerateSerializer, Immutable, Alias("relay.rate-limit-state")]
public readonly record struct RateLimitState(
    [property: Id(0)] int? RequestLimit, [property: Id(1)] long RequestsRemaining, [property: Id(2)] TimeSpan RequestsReset,
    [property: Id(3)] int? TokenLimit, [property: Id(4)] long TokensRemaining, [property: Id(5)] TimeSpan TokensReset);

/// <summary>
/// The actual usage of an admitted request, booked by one settle turn together with its usage record, so
/// that the spend and the ledger can never disagree: both are written in the same turn or neither is.
/// </summary>
/// <param name="Unreserved">
/// The request was served without an admission (fail-open while the store was away): book it even though
/// no reservation exists.
/// </param>
[GenerateSerializer, Immutable, Alias("relay.settlement")]
public readonly record struct Settlement([property: Id(0)] UsageRecord Record, [property: Id(1)] bool Unreserved = false)
{
    public string RequestId => Record.RequestId;

    /// <summary>
    /// Prompt plus completion tokens actually used (replaces the TPM estimate), clamped to
    /// [0, <see cref="ReservationLimits.MaxTokens"/>] whatever the record says.
    /// </summary>
    public long ActualTokens => Math.Clamp(Metering.Saturating.Add(Record.PromptTokens, Record.CompletionTokens), 0, ReservationLimits.MaxTokens);

    /// <summary>Actual cost, booked to spent (the rest of the reservation is freed), clamped to [0, <see cref="ReservationLimits.MaxNanos"/>].</summary>
    public long CostNanos => Math.Clamp(Record.CostNanos, 0, ReservationLimits.MaxNanos);
}

/// <summary>A read of a tenant's windows, slots and budget.</summary>
[GenerateSerializer, Immutable, Alias("relay.quota-snapshot")]
public sealed record QuotaSnapshot(
    [property: Id(0)] string TenantId,
    [property: Id(1)] TenantLimits Limits,
    [property: Id(2)] long RequestsInWindow,
    [property: Id(3)] long TokensInWindow,
    [property: Id(4)] int InFlight,
    [property: Id(5)] long ReservedNanos,
    [property: Id(6)] long SpentNanos,
    [property: Id(7)] string Month,
    [property: Id(8)] RateLimitState Window,
    [property: Id(9)] bool Paused = false);
