using RelayCluster.Core.Configuration;
using RelayCluster.Core.Tenants;
using RelayCluster.Silo.Alerts;

namespace RelayCluster.Tests.Alerts;

/// <summary>The alert settings checked at start, the retry schedule, the webhook body, and the redaction of its URL.</summary>
public sealed class AlertOptionsTests
{
    private static IEnumerable<string> Failures(Action<RelayOptions> change)
    {
        var options = new RelayOptions();
        RelayOptionsDefaults.Apply(options);
        change(options);
        return new RelayOptionsValidator().Validate(null, options).Failures ?? [];
    }

    [Fact]
    public void Thresholds_retries_and_webhooks_out_of_range_are_refused_at_start_without_repeating_the_url()
    {
        Assert.Empty(Failures(o => o.Tenants["t"] = new TenantOptions { Keys = ["k"], AlertThreshold = 0, PauseThreshold = 1, AlertWebhookUrl = "https://hooks.example/x" }));
        Assert.Contains(Failures(o => o.Alerts.PauseThreshold = 1.2), f => f.StartsWith("Relay:Alerts", StringComparison.Ordinal));
        Assert.Contains(Failures(o => o.Alerts.MaxAttempts = 0), f => f.StartsWith("Relay:Alerts", StringComparison.Ordinal));
        Assert.Contains(Failures(o => o.Alerts.FirstRetrySeconds = 0), f => f.StartsWith("Relay:Alerts", StringComparison.Ordinal));
        Assert.Contains(Failures(o => o.Tenants["t"] = new TenantOptions { Keys = ["k"], AlertThreshold = -0.5 }), f => f.StartsWith("Relay:Tenants:t", StringComparison.Ordinal));
        var bad = Failures(o => o.Alerts.WebhookUrl = "hooks.example/T000/secret");
        Assert.Contains(bad, f => f.Contains("WebhookUrl", StringComparison.Ordinal));
        Assert.DoesNotContain(bad, f => f.Contains("secret", StringComparison.Ordinal));
    }

    [Fact]
    public void Retry_and_timeout_settings_that_are_not_finite_or_too_long_for_a_timer_are_refused_at_start()
    {
        // Each would otherwise pass the start and throw only in the first delivery (CancelAfter, TimeSpan.FromSeconds,
        // a grain timer's due time), leaving the crossing pending with no attempt ever recorded.
        foreach (var change in new Action<AlertOptions>[]
        {
            a => a.TimeoutSeconds = double.NaN,
            a => a.TimeoutSeconds = double.PositiveInfinity,
            a => a.TimeoutSeconds = 1e10,
            a => a.FirstRetrySeconds = double.NaN,
            a => a.MaxRetrySeconds = double.NaN,
            a => a.MaxRetrySeconds = double.PositiveInfinity,
            a => (a.FirstRetrySeconds, a.MaxRetrySeconds) = (1e12, 1e12),
        })
        {
            var alerts = new AlertOptions();
            change(alerts);
            Assert.NotNull(alerts.Problem());
            Assert.Contains(Failures(o => change(o.Alerts)), f => f.StartsWith("Relay:Alerts", StringComparison.Ordinal));
        }

        const double Day = 86_400; // the longest wait or timeout allowed
        var longest = new AlertOptions { TimeoutSeconds = Day, FirstRetrySeconds = Day, MaxRetrySeconds = Day };
        Assert.Null(longest.Problem());
        Assert.Equal(TimeSpan.FromSeconds(Day), AlertSchedule.Delay(int.MaxValue, longest));
    }

    [Fact]
    public void Limits_patches_and_alert_states_print_without_the_webhook_url()
    {
        // A record prints every property: one logged or put in an exception message (a quota snapshot, a grain call's
        // arguments) would carry the receiver's secret.
        const string Url = "https://hooks.example/services/T000/B000/s3cr3t-token";
        var limits = new TenantLimits(5, null, null, 1_000, 0.5, null, Url);
        var patch = new TenantLimitsPatch(default, default, default, default, AlertWebhookUrl: Change<string?>.To(Url));
        var alerts = new BudgetAlerts(0.8, 0.95, true, true, Url, false, false, "2026-11", 0, null, []);
        var quota = new QuotaSnapshot("acme", limits, 0, 0, 0, 0, 0, "2026-11", default, false);
        foreach (var printed in new[] { limits.ToString(), patch.ToString(), alerts.ToString(), quota.ToString(), new TenantScalars(limits, false, "2026-11", 0, "").ToString() })
        {
            Assert.DoesNotContain("s3cr3t", printed, StringComparison.Ordinal);
            Assert.DoesNotContain("hooks.example", printed, StringComparison.Ordinal);
        }

        Assert.Contains("RequestsPerMinute = 5", limits.ToString(), StringComparison.Ordinal);
        Assert.Contains("AlertThreshold = 0.5", limits.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("hooks.example/T000/s3cr3t")] // relative: what a hand-edited store or an older version might hold
    [InlineData("ftp://hooks.example/s3cr3t")]
    [InlineData("file:///etc/s3cr3t")]
    public async Task A_stored_webhook_url_no_request_can_use_is_a_failed_attempt_not_an_exception(string url)
    {
        // An exception would leave the crossing pending with no attempt recorded, retried by every reminder tick for ever.
        var webhook = new AlertWebhook(new OneClient(), new AlertOptions(), Microsoft.Extensions.Logging.Abstractions.NullLogger<AlertWebhook>.Instance);
        var crossing = new BudgetCrossing(BudgetCrossing.Alert, 1, 0.8, "2026-11", 0, 0, 1, false, AlertDelivery.New);
        var error = await webhook.SendAsync(url, "acme", crossing, CancellationToken.None);
        Assert.NotNull(error);
        Assert.DoesNotContain("s3cr3t", error, StringComparison.Ordinal);
    }

    private sealed class OneClient : IHttpClientFactory
    {
        public HttpClient CreateClient(string name) => new(new SocketsHttpHandler { AllowAutoRedirect = false });
    }

    [Fact]
    public void Retries_back_off_exponentially_up_to_the_cap_then_fail_for_good()
    {
        var options = new AlertOptions { FirstRetrySeconds = 1, MaxRetrySeconds = 5, MaxAttempts = 4 };
        Assert.Equal([1, 2, 4, 5, 5], new[] { 1, 2, 3, 4, 10 }.Select(n => AlertSchedule.Delay(n, options).TotalSeconds));

        var delivery = AlertDelivery.New;
        for (var attempt = 1; attempt < 4; attempt++)
        {
            delivery = AlertSchedule.After(delivery, "HTTP 503", 1_000 * attempt, options);
            Assert.Equal((AlertDelivery.Pending, attempt, "HTTP 503"), (delivery.Status, delivery.Attempts, delivery.LastError));
            Assert.Equal(1_000 * attempt + (long)AlertSchedule.Delay(attempt, options).TotalMilliseconds, delivery.NextAttemptAtMs);
        }

        Assert.Equal((AlertDelivery.Failed, 4, (long?)null), ((delivery = AlertSchedule.After(delivery, "HTTP 503", 9_000, options)).Status, delivery.Attempts, delivery.NextAttemptAtMs));
        var delivered = AlertSchedule.After(AlertDelivery.New with { Attempts = 2 }, null, 7_000, options);
        Assert.Equal((AlertDelivery.Delivered, 3, (long?)7_000), (delivered.Status, delivered.Attempts, delivered.DeliveredAtMs));
    }

    [Fact]
    public void The_body_carries_the_crossing_and_a_slack_text_and_the_admin_view_redacts_the_url()
    {
        var crossing = new BudgetCrossing(BudgetCrossing.Pause, 1, 0.95, "2026-11", 1_796_040_000_000, 95_120_000_000, 100_000_000_000, false, AlertDelivery.New);
        var body = System.Text.Json.Nodes.JsonNode.Parse(AlertPayload.Json("acme", crossing))!;
        Assert.Equal(("acme:2026-11:pause", "budget.pause", "acme", "2026-11", 0.95, 95.12m, 100m, "2026-11-30T12:00:00.000Z"),
            ((string)body["id"]!, (string)body["type"]!, (string)body["tenant"]!, (string)body["month"]!, (double)body["threshold"]!,
             (decimal)body["spent_usd"]!, (decimal)body["budget_usd"]!, (string)body["time"]!));
        Assert.Equal(
            ":no_entry: Budget pause: tenant `acme` was paused after spending $95.12 of its $100.00 budget for 2026-11 (pause threshold 95%). Its requests are refused until an admin resumes it or raises the budget.",
            (string)body["text"]!);

        Assert.Equal("https://hooks.slack.com/…", AlertsView.Redact("https://hooks.slack.com/services/T000/B000/XXXX"));
        Assert.Equal("http://127.0.0.1:8080/…", AlertsView.Redact("http://user:pw@127.0.0.1:8080/hook?token=x"));
    }
}
