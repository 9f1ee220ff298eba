namespace RelayCluster.Core.Configuration;

/// <summary>
/// <c>Relay:Alerts</c>: budget alerts and auto-pause. The thresholds are the defaults of every tenant that sets none
/// (fractions of its monthly budget; 0 turns one off). A crossing's webhook is POSTed to the tenant's own URL or else
/// <see cref="WebhookUrl"/>, retried with exponential backoff (<see cref="FirstRetrySeconds"/>, doubling, at most
/// <see cref="MaxRetrySeconds"/>) until <see cref="MaxAttempts"/> attempts failed.
/// </summary>
public sealed class AlertOptions
{
    /// <summary>The relay's webhook (a Slack incoming webhook works as is). A secret: never logged, shown redacted.</summary>
    public string? WebhookUrl { get; set; }

    public double AlertThreshold { get; set; } = 0.80;

    public double PauseThreshold { get; set; } = 0.95;

    public int MaxAttempts { get; set; } = 8;

    public double FirstRetrySeconds { get; set; } = 1;

    public double MaxRetrySeconds { get; set; } = 300;

    /// <summary>Longest one attempt may take (connect, send, answer).</summary>
    public double TimeoutSeconds { get; set; } = 10;

    /// <summary>What is wrong with these settings, or null.</summary>
    public string? Problem()
    {
        if (!Tenants.TenantLimits.IsThreshold(AlertThreshold) || !Tenants.TenantLimits.IsThreshold(PauseThreshold))
        {
            return "AlertThreshold and PauseThreshold must be fractions of the budget in [0, 1] (0 turns one off).";
        }

        // NaN fails every comparison, so each bound is written as what must hold.
        if (MaxAttempts < 1 || !IsSeconds(FirstRetrySeconds) || !IsSeconds(MaxRetrySeconds) || !IsSeconds(TimeoutSeconds)
            || !(MaxRetrySeconds >= FirstRetrySeconds))
        {
            return $"MaxAttempts must be at least 1; FirstRetrySeconds, MaxRetrySeconds and TimeoutSeconds numbers above zero and at most {MaxSeconds:0}; and MaxRetrySeconds at least FirstRetrySeconds.";
        }

        return WebhookProblem(WebhookUrl) is { } webhook ? "WebhookUrl " + webhook : null;
    }

    /// <summary>
    /// The longest wait or timeout these settings may ask for (a day, in seconds): a timer or a cancellation cannot be
    /// set much beyond 49 days, and a NaN or a larger value would only fail at the first delivery, leaving it pending.
    /// </summary>
    public const double MaxSeconds = 86_400;

    private static bool IsSeconds(double seconds) => seconds is > 0 and <= MaxSeconds;

    /// <summary>Why a webhook URL is unusable (not an absolute http or https URL), or null; the URL itself is never repeated (a secret).</summary>
    public static string? WebhookProblem(string? url) =>
        string.IsNullOrWhiteSpace(url) || (Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
            ? null
            : "must be an absolute http or https URL.";
}
