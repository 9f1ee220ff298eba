using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Telemetry;

/// <summary>
/// Budget webhook attempts on <c>/metrics</c>: a receiver that fails the first POST of each event, so each threshold's
/// webhook takes exactly one failed and one delivered attempt, and the counter moves by exactly that.
/// </summary>
[Collection(TelemetryCollection.Name)]
public sealed class AlertMetricsTests
{
    [Fact]
    public async Task Each_webhook_attempt_is_counted_by_kind_and_result()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Fail = (_, before) => before == 0; // every event's first POST fails; its retry is delivered
        using var host = new RelayHost(RelayHost.SimulatorSettings(
            ("Relay:Models:pricey:Provider", "sim"), ("Relay:Models:pricey:InputPerMTok", "100"), ("Relay:Models:pricey:OutputPerMTok", "100"),
            ("Relay:Alerts:FirstRetrySeconds", "0.2"), ("Relay:Alerts:MaxRetrySeconds", "1")));
        using var admin = host.ClientFor(RelayHost.AdminKey);
        var tenant = "am" + Guid.NewGuid().ToString("N")[..8];
        using var created = await admin.PostAsJsonAsync("/admin/tenants", new
        {
            id = tenant, monthly_budget_usd = 0.05m, alert_threshold = 0.3, pause_threshold = 0.5, alert_webhook_url = receiver.Url,
        });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var client = host.ClientFor((string)(await created.Content.ReadFromJsonAsync<JsonObject>())!["key"]!["key"]!);
        Assert.Equal(0, (await MetricsTests.ScrapeAsync(admin)).Sum("relay_alerts_webhook_attempts_total", ("relay_tenant", tenant)));

        var served = 0;
        while (await ChatStatusAsync(client) == HttpStatusCode.OK)
        {
            Assert.True(++served < 40, "the tenant was never paused");
        }

        var scraped = await Eventually.WaitAsync(() => MetricsTests.ScrapeAsync(admin),
            s => s.Sum("relay_alerts_webhook_attempts_total", ("relay_tenant", tenant)) >= 4);
        foreach (var kind in new[] { "alert", "pause" })
        {
            foreach (var result in new[] { "failed", "delivered" })
            {
                Assert.Equal(1, scraped!.Sum("relay_alerts_webhook_attempts_total", ("relay_tenant", tenant), ("relay_alert_kind", kind), ("relay_result", result)));
            }
        }

        Assert.Equal(4, receiver.Posts.Count);
        Assert.Equal(2, receiver.Delivered.Count);
    }

    private static async Task<HttpStatusCode> ChatStatusAsync(HttpClient client)
    {
        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("hi", extra: new { model = "pricey", max_tokens = 16 })));
        return response.StatusCode;
    }
}
