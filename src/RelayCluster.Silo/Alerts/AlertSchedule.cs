using RelayCluster.Core.Configuration;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Silo.Alerts;

/// <summary>
/// What an attempt's outcome makes of a delivery: delivered; or, after a failure, pending again after an exponential
/// backoff (<c>FirstRetrySeconds</c> × 2^(attempts − 1), at most <c>MaxRetrySeconds</c>), until <c>MaxAttempts</c>
/// attempts failed, then failed for good (visible to admins, never retried).
/// </summary>
internal static class AlertSchedule
{
    /// <param name="error">Null when the receiver answered 2xx; else why not (never the URL).</param>
    public static AlertDelivery After(AlertDelivery before, string? error, long nowMs, AlertOptions options)
    {
        var attempts = before.Attempts + 1;
        if (error is null)
        {
            return new AlertDelivery(AlertDelivery.Delivered, attempts, nowMs, null, null, nowMs);
        }

        return attempts >= options.MaxAttempts
            ? new AlertDelivery(AlertDelivery.Failed, attempts, nowMs, error)
            : new AlertDelivery(AlertDelivery.Pending, attempts, nowMs, error, nowMs + (long)Delay(attempts, options).TotalMilliseconds);
    }

    /// <summary>The wait after <paramref name="failedAttempts"/> failed attempts (at least 1).</summary>
    public static TimeSpan Delay(int failedAttempts, AlertOptions options)
    {
        var seconds = options.FirstRetrySeconds * Math.Pow(2, Math.Min(Math.Max(failedAttempts, 1) - 1, 30));
        return TimeSpan.FromSeconds(Math.Min(seconds, options.MaxRetrySeconds));
    }
}
