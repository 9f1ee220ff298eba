using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RelayCluster.Silo.Tenants;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>Budget alerts on the embedded store, with what only it shows: a restart, and a new month on a clock the test moves.</summary>
public sealed class EmbeddedBudgetAlertsTests : BudgetAlertsContract
{
    private readonly TempDirectory _data = new();

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _data.Dispose();
    }

    protected override RelayHost StartRelay(params (string Key, string? Value)[] settings) => new(RelayHost.SimulatorSettings(settings), _data.Path);

    [Fact]
    public async Task A_restart_delivers_a_pending_webhook_and_does_not_send_a_delivered_one_again()
    {
        Receiver.Fail = (body, _) => (string?)body["type"] == "budget.pause"; // the alert gets through; the pause waits
        string tenant, key;
        var settings = Defaults(("Relay:Alerts:FirstRetrySeconds", "60"), ("Relay:Alerts:MaxRetrySeconds", "60"));
        using (var first = StartRelay(settings))
        using (var admin = first.ClientFor(RelayHost.AdminKey))
        {
            (tenant, key) = await CreateTenantAsync(admin, Receiver.Url);
            using var client = first.ClientFor(key);
            await SpendUntilPausedAsync(client);
            var pending = await Eventually.WaitAsync(() => AlertsAsync(admin, tenant), a => a["crossings"]!.AsArray().Any(c =>
                (string?)c!["kind"] == "pause" && (int)c["delivery"]!["attempts"]! == 1));
            Assert.Equal("pending", (string?)pending!["crossings"]!.AsArray().Single(c => (string?)c!["kind"] == "pause")!["delivery"]!["status"]);
            Assert.Single(Receiver.DeliveredOf("budget.alert"));
        }

        Receiver.Fail = (_, _) => false;
        using var second = StartRelay(settings); // nobody calls the tenant: the start itself resumes its delivery
        using var admin2 = second.ClientFor(RelayHost.AdminKey);
        var pause = await Eventually.WaitAsync(() => Task.FromResult(Receiver.DeliveredOf("budget.pause")), d => d.Count > 0);
        Assert.Single(pause!);
        var alerts = await DeliveredAsync(admin2, tenant, 2);
        Assert.Equal(2, (int)alerts["crossings"]!.AsArray().Single(c => (string?)c!["kind"] == "pause")!["delivery"]!["attempts"]!);
        Assert.Single(Receiver.DeliveredOf("budget.alert")); // delivered before the restart: not sent again
        Assert.Equal(3, Receiver.Posts.Count);
        using var client2 = second.ClientFor(key);
        Assert.Contains("pause threshold", await RefusalAsync(client2)); // still paused by its threshold after the restart
    }

    [Fact]
    public async Task The_webhook_url_stays_out_of_the_logs_even_with_http_client_logging_at_debug()
    {
        Receiver.Fail = (_, before) => before == 0;
        var capture = new LogCapture();
        using var host = new RelayHost(RelayHost.SimulatorSettings(Defaults(("Logging:LogLevel:Default", "Debug"), ("Logging:LogLevel:System.Net.Http.HttpClient", "Debug"), ("Relay:Alerts:WebhookUrl", Receiver.Url))), _data.Path,
            services => services.AddSingleton<ILoggerProvider>(capture));
        using var admin = host.ClientFor(RelayHost.AdminKey);
        var (tenant, key) = await CreateTenantAsync(admin, webhook: null);
        using var client = host.ClientFor(key);
        await SpendUntilPausedAsync(client);
        await DeliveredAsync(admin, tenant, 2);

        Assert.Contains(capture.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("webhook attempt 1 failed: HTTP 500", StringComparison.Ordinal));
        Assert.DoesNotContain(capture.Entries, e => e.Message.Contains(WebhookReceiver.Secret, StringComparison.Ordinal)
            || (e.Exception?.ToString().Contains(WebhookReceiver.Secret, StringComparison.Ordinal) ?? false));
    }

    [Fact]
    public async Task A_new_month_resumes_a_threshold_pause_but_not_an_admins_pause()
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        using var host = new RelayHost(RelayHost.SimulatorSettings(Defaults()), _data.Path,
            services => services.AddKeyedSingleton<TimeProvider>(TenantGrain.ClockKey, clock));
        using var admin = host.ClientFor(RelayHost.AdminKey);
        var (byThreshold, thresholdKey) = await CreateTenantAsync(admin, Receiver.Url);
        var (byAdmin, adminKey) = await CreateTenantAsync(admin, Receiver.Url);
        using var thresholdClient = host.ClientFor(thresholdKey);
        using var adminClient = host.ClientFor(adminKey);
        await SpendUntilPausedAsync(thresholdClient);
        (await admin.PostAsync($"/admin/tenants/{byAdmin}/pause", null)).Dispose();
        Assert.Contains("paused by an administrator", await RefusalAsync(adminClient));

        var now = clock.GetUtcNow();
        clock.Set(new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 1, TimeSpan.Zero).AddMonths(1));
        await ChatAsync(thresholdClient, HttpStatusCode.OK);
        await ChatAsync(adminClient, HttpStatusCode.Forbidden);
        var alerts = await AlertsAsync(admin, byThreshold);
        Assert.Equal(clock.GetUtcNow().ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture), (string?)alerts["month"]);
        Assert.All(alerts["crossings"]!.AsArray(), c => Assert.NotEqual((string?)alerts["month"], (string?)c!["month"])); // last month's, kept only while delivering
    }
}

/// <summary>Budget alerts on the Redis store (a redis-server of its own per test).</summary>
public sealed class RedisBudgetAlertsTests : BudgetAlertsContract
{
    private readonly RedisServer _redis = new();

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await _redis.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _redis.DisposeAsync();
    }

    protected override RelayHost StartRelay(params (string Key, string? Value)[] settings) =>
        new(RelayHost.SimulatorSettings([("Relay:Store", "redis"), ("Relay:Redis", _redis.ConnectionString), .. settings]));
}
