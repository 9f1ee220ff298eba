using System.Globalization;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Http;

namespace RelayCluster.Silo.Relay;

/// <summary>The 429 (403 for a paused tenant) a refused admission becomes, worded and typed as OpenAI words its own.</summary>
internal static class Refusals
{
    public static RelayError For(Admission admission, string tenantId, long requestedTokens)
    {
        var wait = RateLimitHeaders.GoDuration(admission.RetryAfter);
        return admission.Outcome switch
        {
            AdmissionOutcome.RequestsPerMinuteExceeded => RateLimited(
                $"Rate limit reached for tenant {tenantId} on requests per min (RPM): Limit {admission.Window.RequestLimit}, Requested 1. Please try again in {wait}.",
                "requests", admission.RetryAfter),
            AdmissionOutcome.TokensPerMinuteExceeded => RateLimited(
                $"Rate limit reached for tenant {tenantId} on tokens per min (TPM): Limit {admission.Window.TokenLimit}, Remaining {admission.Window.TokensRemaining}, Requested {requestedTokens}. Please try again in {wait}.",
                "tokens", admission.RetryAfter),
            AdmissionOutcome.RequestLargerThanTokenLimit => new RelayError(429, new OpenAiError(
                $"Request too large for tenant {tenantId} on tokens per min (TPM): Limit {admission.Window.TokenLimit}, Requested {requestedTokens}. The prompt and max_tokens together must fit the limit; lower max_tokens or shorten the prompt.",
                "tokens", null, "rate_limit_exceeded"), ShouldRetry: false),
            AdmissionOutcome.ConcurrencyExceeded => RateLimited(
                $"Too many concurrent requests for tenant {tenantId}. Please try again in {wait}.",
                "requests", admission.RetryAfter),
            AdmissionOutcome.BudgetExceeded => new RelayError(429, new OpenAiError(
                $"You exceeded your current quota: tenant {tenantId}'s monthly budget is spent or held by requests in flight (this request may cost up to its max_tokens).",
                "insufficient_quota", null, "insufficient_quota"), ShouldRetry: false),
            AdmissionOutcome.Paused => new RelayError(403, new OpenAiError(
                admission.Pause is { } cause
                    ? $"Tenant {tenantId} is paused by its budget's pause threshold ({cause.Threshold.ToString("0.##%", CultureInfo.InvariantCulture)}): it has spent "
                        + $"{Alerts.AlertPayload.Usd(cause.SpentNanos)} of its {Alerts.AlertPayload.Usd(cause.BudgetNanos)} budget this month. "
                        + "An administrator must resume it or raise its budget."
                    : $"Tenant {tenantId} is paused by an administrator.",
                "invalid_request_error", null, "tenant_paused"), ShouldRetry: false),
            AdmissionOutcome.ReservationOutOfRange => RelayError.BadRequest(
                $"The request's worst case ({requestedTokens} tokens) is outside what the relay admits. Lower max_tokens, n or the prompt.",
                null, "invalid_value"),
            _ => throw new ArgumentOutOfRangeException(nameof(admission), admission.Outcome, "Not a refusal."),
        };
    }

    private static RelayError RateLimited(string message, string type, TimeSpan retryAfter) =>
        new(429, new OpenAiError(message, type, null, "rate_limit_exceeded"), retryAfter);
}
