using System.Net.Http.Headers;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Tenants;
using RelayCluster.Silo.Telemetry;

namespace RelayCluster.Silo.Alerts;

/// <summary>
/// Sends one budget webhook: a POST of <see cref="AlertPayload"/> with an <c>Idempotency-Key</c> header (the event id),
/// bounded by <c>Relay:Alerts:TimeoutSeconds</c>, redirects not followed. Any 2xx is delivered; anything else is a failure
/// described without the URL (which carries the receiver's secret, as a Slack webhook's path does): the status code, a
/// timeout, or the kind of connection error. Never throws for the receiver's faults. Each attempt is counted in
/// <c>relay.alerts.webhook.attempts</c> when the host has metrics (a test silo may not).
/// </summary>
internal sealed partial class AlertWebhook(IHttpClientFactory clients, AlertOptions options, ILogger<AlertWebhook> logger, RelayMetrics? metrics = null)
{
    public const string ClientName = "relay.alerts";

    /// <summary>
    /// Marks a webhook request so tracing leaves it out: HttpClient spans carry <c>url.full</c>, and a webhook's path is
    /// its receiver's secret.
    /// </summary>
    public static readonly HttpRequestOptionsKey<bool> SecretUrl = new("relay.secret-url");

    /// <summary>True for a request <see cref="SendAsync"/> made (for the HttpClient trace filter).</summary>
    public static bool CarriesSecretUrl(HttpRequestMessage request) => request.Options.TryGetValue(SecretUrl, out var secret) && secret;

    public AlertOptions Options => options;

    /// <summary>The tenant's own webhook, else the relay's; null when neither is configured.</summary>
    public string? UrlFor(TenantLimits limits) =>
        limits.AlertWebhookUrl ?? (string.IsNullOrWhiteSpace(options.WebhookUrl) ? null : options.WebhookUrl);

    /// <summary>Null when the receiver took it (2xx); else the reason, for <see cref="AlertDelivery.LastError"/>.</summary>
    public async Task<string?> SendAsync(string url, string tenantId, BudgetCrossing crossing, CancellationToken cancellationToken)
    {
        // Checked where it is set, but a stored value may predate that check: HttpClient would throw rather than fail the attempt.
        var error = string.IsNullOrWhiteSpace(url) || AlertOptions.WebhookProblem(url) is not null
            ? "the webhook URL is not an absolute http or https URL"
            : await PostAsync(url, tenantId, crossing, cancellationToken);
        metrics?.AlertAttempt(tenantId, crossing.Kind, error is null);
        if (error is not null)
        {
            LogFailed(logger, tenantId, crossing.Kind, crossing.Delivery.Attempts + 1, error);
        }

        return error;
    }

    private async Task<string?> PostAsync(string url, string tenantId, BudgetCrossing crossing, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.TimeoutSeconds));
        try
        {
            using var content = new ByteArrayContent(AlertPayload.Json(tenantId, crossing));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = content };
            request.Headers.TryAddWithoutValidation("Idempotency-Key", crossing.EventId(tenantId));
            request.Options.Set(SecretUrl, true);
            using var response = await clients.CreateClient(ClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            return response.IsSuccessStatusCode ? null : $"HTTP {(int)response.StatusCode}";
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return $"no answer within {options.TimeoutSeconds:0.###} s";
        }
        catch (HttpRequestException ex)
        {
            // Not ex.Message: it may name the host and port; the kind of error is what an admin acts on.
            return $"request failed ({ex.HttpRequestError})";
        }
        catch (UriFormatException)
        {
            return "the webhook URL is not a valid URL";
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tenant {TenantId}: budget {Kind} webhook attempt {Attempt} failed: {Error}.")]
    private static partial void LogFailed(ILogger logger, string tenantId, string kind, int attempt, string error);
}
