using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>
/// Budget alerts and auto-pause through the real silo, on each store: traffic crosses a tenant's thresholds, a real
/// webhook receiver gets one alert and one pause, the next request is refused with 403 <c>tenant_paused</c> saying why,
/// failures are retried with backoff and shown to admins, and a resume or a larger budget lets requests through again.
/// Each request costs about $0.0026 (a model priced at $100 per million tokens, 16 output tokens); a tenant's budget of
/// $0.05 with thresholds 0.3 and 0.5 alerts after about 6 requests and pauses after about 10.
/// </summary>
public abstract class BudgetAlertsContract : IAsyncLifetime
{
    protected const decimal BudgetUsd = 0.05m;

    protected WebhookReceiver Receiver { get; private set; } = null!;

    public virtual async Task InitializeAsync() => Receiver = await WebhookReceiver.StartAsync();

    public virtual async Task DisposeAsync() => await Receiver.DisposeAsync();

    /// <summary>A silo on this store with the pricey model, fast retries, and these settings.</summary>
    protected abstract RelayHost StartRelay(params (string Key, string? Value)[] settings);

    protected static (string, string?)[] Defaults(params (string, string?)[] extra) =>
    [
        ("Relay:Models:pricey:Provider", "sim"),
        ("Relay:Models:pricey:InputPerMTok", "100"),
        ("Relay:Models:pricey:OutputPerMTok", "100"),
        ("Relay:Alerts:FirstRetrySeconds", "0.2"),
        ("Relay:Alerts:MaxRetrySeconds", "1"),
        .. extra,
    ];

    [Fact]
    public async Task Traffic_past_both_thresholds_sends_one_alert_and_one_pause_and_the_next_request_is_refused_until_an_admin_resumes()
    {
        using var host = StartRelay(Defaults(("Relay:Alerts:WebhookUrl", Receiver.Url))); // the relay's webhook: the tenant sets none
        using var admin = host.ClientFor(RelayHost.AdminKey);
        var (tenant, key) = await CreateTenantAsync(admin, webhook: null);
        using var client = host.ClientFor(key);

        var served = await SpendUntilPausedAsync(client);
        var refused = await RefusalAsync(client);
        Assert.Contains("pause threshold (50%)", refused);
        Assert.Contains($"of its ${BudgetUsd:0.00} budget this month", refused);
        Assert.Contains("must resume it or raise its budget", refused);
        using (var files = await client.GetAsync("/v1/files"))
        {
            Assert.Equal(HttpStatusCode.OK, files.StatusCode); // costs nothing: a pause that protects the budget lets it through
        }

        var alerts = await DeliveredAsync(admin, tenant, 2);
        Assert.Equal("threshold", (string?)alerts["paused_by"]);
        var month = (string)alerts["month"]!;
        var alert = Assert.Single(Receiver.DeliveredOf("budget.alert"));
        var pause = Assert.Single(Receiver.DeliveredOf("budget.pause"));
        Assert.Equal((tenant, month, 0.3, BudgetUsd), ((string)alert["tenant"]!, (string)alert["month"]!, (double)alert["threshold"]!, (decimal)alert["budget_usd"]!));
        Assert.Equal(0.5, (double)pause["threshold"]!);
        // The id names this incarnation of the tenant id (8 hex digits of it), so a tenant created again is not taken for a redelivery.
        var id = System.Text.RegularExpressions.Regex.Match((string)alert["id"]!, $"^{tenant}@([0-9a-f]{{8}}):{month}:alert$");
        Assert.True(id.Success, (string)alert["id"]!);
        var incarnation = id.Groups[1].Value;
        Assert.Equal($"{tenant}@{incarnation}:{month}:pause", (string)pause["id"]!);
        Assert.Equal([(string)alert["id"]!, (string)pause["id"]!], alerts["crossings"]!.AsArray().Select(c => (string)c!["id"]!));
        Assert.InRange((decimal)alert["spent_usd"]!, 0.3m * BudgetUsd, 0.5m * BudgetUsd);
        Assert.InRange((decimal)pause["spent_usd"]!, 0.5m * BudgetUsd, BudgetUsd);
        Assert.Contains($"tenant `{tenant}`", (string)pause["text"]!);
        Assert.True(DateTimeOffset.TryParse((string)pause["time"]!, out _));
        Assert.All(Receiver.Posts, p => Assert.Equal((string)p.Body["id"]!, p.IdempotencyKey));
        Assert.Equal(2, Receiver.Posts.Count); // one each, delivered at the first attempt
        Assert.All(alerts["crossings"]!.AsArray(), c => Assert.Equal(1, (int)c!["delivery"]!["attempts"]!));
        Assert.True(served is >= 9 and <= 12, $"{served} requests served before the pause"); // the pause came at half the budget, not at its end

        using (var resumed = await admin.PostAsync($"/admin/tenants/{tenant}/resume", null))
        {
            Assert.Equal(HttpStatusCode.OK, resumed.StatusCode);
        }

        await ChatAsync(client, HttpStatusCode.OK);
        await ChatAsync(client, HttpStatusCode.OK); // crossed once this month: no new pause, no new webhook
        var after = await AlertsAsync(admin, tenant);
        Assert.Null((string?)after["paused_by"]);
        Assert.Equal(2, after["crossings"]!.AsArray().Count);
        Assert.Equal(2, Receiver.Posts.Count);
    }

    [Fact]
    public async Task A_receiver_failing_twice_is_retried_with_backoff_and_admins_see_the_attempts()
    {
        Receiver.Fail = (_, before) => before < 2;
        using var host = StartRelay(Defaults());
        using var admin = host.ClientFor(RelayHost.AdminKey);
        var (tenant, key) = await CreateTenantAsync(admin, Receiver.Url); // the tenant's own webhook
        using var client = host.ClientFor(key);
        await SpendUntilPausedAsync(client);

        var alerts = await DeliveredAsync(admin, tenant, 2);
        foreach (var crossing in alerts["crossings"]!.AsArray())
        {
            var delivery = crossing!["delivery"]!;
            Assert.Equal(3, (int)delivery["attempts"]!);
            Assert.NotNull((long?)delivery["delivered_at"]);
            var posts = Receiver.Posts.Where(p => (string?)p.Body["id"] == (string?)crossing["id"]).Select(p => p.At).ToList();
            Assert.Equal(3, posts.Count);
            Assert.True(posts[1] - posts[0] >= TimeSpan.FromSeconds(0.18), $"first retry after {posts[1] - posts[0]}");
            Assert.True(posts[2] - posts[1] >= TimeSpan.FromSeconds(0.36), $"second retry after {posts[2] - posts[1]} (the delay doubles)");
        }

        Assert.Single(Receiver.DeliveredOf("budget.alert"));
        Assert.Single(Receiver.DeliveredOf("budget.pause"));
    }

    [Fact]
    public async Task A_receiver_that_always_fails_ends_failed_with_its_error_shown_and_the_url_never_shown()
    {
        Receiver.Fail = (_, _) => true;
        using var host = StartRelay(Defaults(("Relay:Alerts:MaxAttempts", "3")));
        using var admin = host.ClientFor(RelayHost.AdminKey);
        var (tenant, key) = await CreateTenantAsync(admin, Receiver.Url);
        using var client = host.ClientFor(key);
        await SpendUntilPausedAsync(client);

        var alerts = await Eventually.WaitAsync(() => AlertsAsync(admin, tenant),
            a => a["crossings"]!.AsArray().Count == 2 && a["crossings"]!.AsArray().All(c => (string?)c!["delivery"]!["status"] == "failed"));
        Assert.All(alerts!["crossings"]!.AsArray(), c =>
        {
            Assert.Equal("failed", (string?)c!["delivery"]!["status"]);
            Assert.Equal(3, (int)c["delivery"]!["attempts"]!);
            Assert.Equal("HTTP 500", (string?)c["delivery"]!["last_error"]);
            Assert.Null((long?)c["delivery"]!["next_attempt_at"]);
        });
        Assert.Equal(6, Receiver.Posts.Count);
        Assert.Equal("tenant", (string?)alerts["webhook"]!["source"]);
        Assert.DoesNotContain(WebhookReceiver.Secret, (await admin.GetStringAsync($"/admin/tenants/{tenant}")));
        Assert.Equal(HttpStatusCode.Forbidden, await ChatStatusAsync(client)); // a failed webhook does not undo the pause
    }

    [Fact]
    public async Task Raising_the_budget_resumes_a_threshold_pause_and_re_arms_the_pause()
    {
        using var host = StartRelay(Defaults());
        using var admin = host.ClientFor(RelayHost.AdminKey);
        var (tenant, key) = await CreateTenantAsync(admin, Receiver.Url);
        using var client = host.ClientFor(key);
        await SpendUntilPausedAsync(client);
        await DeliveredAsync(admin, tenant, 2);

        var patched = await Json(await admin.PatchAsJsonAsync($"/admin/tenants/{tenant}", new { monthly_budget_usd = 1 }), HttpStatusCode.OK);
        Assert.False((bool)patched["paused"]!);
        Assert.All(patched["alerts"]!["crossings"]!.AsArray(), c => Assert.True((bool)c!["rearmed"]!)); // both below the thresholds again
        await ChatAsync(client, HttpStatusCode.OK);
    }

    [Fact]
    public async Task Thresholds_and_webhook_are_checked_set_and_shown_redacted()
    {
        using var host = StartRelay(Defaults());
        using var admin = host.ClientFor(RelayHost.AdminKey);
        var (tenant, _) = await CreateTenantAsync(admin, Receiver.Url);
        foreach (var (body, param) in new (object, string)[]
        {
            (new { alert_threshold = 1.5 }, "alert_threshold"),
            (new { pause_threshold = -0.1 }, "pause_threshold"),
            (new { pause_threshold = "0.9" }, "pause_threshold"),
            (new { alert_webhook_url = "ftp://hooks.example/x" }, "alert_webhook_url"),
            (new { alert_webhook_url = (object)42 }, "alert_webhook_url"),
        })
        {
            using var response = await admin.PatchAsJsonAsync($"/admin/tenants/{tenant}", body);
            var error = (await Json(response, HttpStatusCode.BadRequest))["error"]!;
            Assert.Equal((param, "invalid_value"), ((string?)error["param"], (string?)error["code"]));
        }

        var set = await Json(await admin.PatchAsJsonAsync($"/admin/tenants/{tenant}", new { alert_threshold = 0, pause_threshold = (double?)null }), HttpStatusCode.OK);
        var alerts = set["alerts"]!;
        Assert.Equal((0.0, false, 0.95, true), ((double)alerts["alert_threshold"]!, (bool)alerts["alert_threshold_default"]!, (double)alerts["pause_threshold"]!, (bool)alerts["pause_threshold_default"]!));
        Assert.Equal(new Uri(Receiver.Url).GetLeftPart(UriPartial.Authority) + "/…", (string?)alerts["webhook"]!["url"]);
        Assert.DoesNotContain(WebhookReceiver.Secret, set.ToJsonString());
    }

    /// <summary>Creates a tenant with the test budget and thresholds 0.3 / 0.5, and its key.</summary>
    protected static async Task<(string Tenant, string Key)> CreateTenantAsync(HttpClient admin, string? webhook)
    {
        var tenant = "alerts-" + Guid.NewGuid().ToString("N")[..8];
        var created = await Json(await admin.PostAsJsonAsync("/admin/tenants", new
        {
            id = tenant, monthly_budget_usd = BudgetUsd, alert_threshold = 0.3, pause_threshold = 0.5, alert_webhook_url = webhook,
        }), HttpStatusCode.Created);
        return (tenant, (string)created["key"]!["key"]!);
    }

    /// <summary>Sends requests one by one until the tenant is paused; every one before the 403 is served. Returns how many were.</summary>
    protected static async Task<int> SpendUntilPausedAsync(HttpClient client)
    {
        for (var served = 0; served < 40; served++)
        {
            if (await ChatStatusAsync(client) == HttpStatusCode.Forbidden)
            {
                return served;
            }
        }

        throw new Xunit.Sdk.XunitException("The tenant was never paused.");
    }

    protected static async Task<HttpStatusCode> ChatStatusAsync(HttpClient client)
    {
        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("spend", extra: new { model = "pricey", max_tokens = 16 })));
        Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Forbidden, $"status {response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return response.StatusCode;
    }

    protected static async Task ChatAsync(HttpClient client, HttpStatusCode expected) => Assert.Equal(expected, await ChatStatusAsync(client));

    /// <summary>The 403's message, after checking its envelope.</summary>
    protected static async Task<string> RefusalAsync(HttpClient client)
    {
        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("refused", extra: new { model = "pricey", max_tokens = 16 })));
        var error = (await Json(response, HttpStatusCode.Forbidden))["error"]!;
        Assert.Equal("tenant_paused", (string?)error["code"]);
        return (string)error["message"]!;
    }

    protected static async Task<JsonObject> AlertsAsync(HttpClient admin, string tenant) =>
        (await admin.GetFromJsonAsync<JsonObject>($"/admin/tenants/{tenant}/alerts"))!;

    /// <summary>Waits until the tenant shows <paramref name="count"/> crossings, all delivered.</summary>
    protected static async Task<JsonObject> DeliveredAsync(HttpClient admin, string tenant, int count)
    {
        var alerts = await Eventually.WaitAsync(() => AlertsAsync(admin, tenant),
            a => a["crossings"]!.AsArray().Count == count && a["crossings"]!.AsArray().All(c => (string?)c!["delivery"]!["status"] == "delivered"));
        Assert.Equal(count, alerts!["crossings"]!.AsArray().Count(c => (string?)c!["delivery"]!["status"] == "delivered"));
        return alerts;
    }

    protected static async Task<JsonObject> Json(HttpResponseMessage response, HttpStatusCode expected)
    {
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(expected == response.StatusCode, $"expected {expected}, got {response.StatusCode}: {text}");
            return JsonNode.Parse(text)!.AsObject();
        }
    }
}
