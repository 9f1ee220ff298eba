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

        if (MaxAttempts < 1 || FirstRetrySeconds <= 0 || MaxRetrySeconds < FirstRetrySeconds || TimeoutSeconds <= 0)
        {
            return "MaxAttempts must be at least 1, FirstRetrySeconds and TimeoutSeconds above zero, and MaxRetrySeconds at least FirstRetrySeconds.";
        }

        return WebhookProblem(WebhookUrl) is { } webhook ? "WebhookUrl " + webhook : null;
    }

    /// <summary>Why a webhook URL is unusable (not an absolute http or https URL), or null; the URL itself is never repeated (a secret).</summary>
    public static string? WebhookProblem(string? url) =>
        string.IsNullOrWhiteSpace(url) || (Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
            ? null
            : "must be an absolute http or https URL.";
}
