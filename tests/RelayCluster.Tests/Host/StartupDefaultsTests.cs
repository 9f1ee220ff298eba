using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>
/// The demo defaults (demo tenant, simulator provider and models) belong to the embedded default only: a silo on the
/// Redis store is a deployed cluster and never seeds a demo tenant into the shared store. In embedded mode, a demo
/// tenant an admin deleted stays deleted, and the start-up message says so instead of printing a key that answers 401.
/// </summary>
public sealed class StartupDefaultsTests : IAsyncLifetime
{
    private readonly RedisServer _redis = new();

    public Task InitializeAsync() => _redis.InitializeAsync();

    public Task DisposeAsync() => _redis.DisposeAsync();

    /// <summary>
    /// A cluster whose tenants are managed through the admin API has no Relay:Tenants section: no silo may create a
    /// "demo" tenant ($10, every model) with a logged key in the shared store.
    /// </summary>
    [Fact]
    public async Task A_redis_silo_without_configured_tenants_seeds_no_demo_tenant_and_logs_no_key()
    {
        var logs = new LogCapture();
        using var host = new RelayHost(
            RelayHost.SimulatorSettings(("Relay:Store", "redis"), ("Relay:Redis", _redis.ConnectionString)),
            replaceServices: services => services.AddSingleton<ILoggerProvider>(logs));
        using var admin = host.ClientFor(RelayHost.AdminKey);

        var tenants = (await admin.GetFromJsonAsync<JsonObject>("/admin/tenants"))!["data"]!.AsArray();

        Assert.DoesNotContain(tenants, t => (string?)t!["id"] == "demo");
        Assert.DoesNotContain(logs.Entries, e => e.Message.Contains("sk-demo-", StringComparison.Ordinal));
    }

    /// <summary>Without a Providers or Models section a Redis silo serves no simulator models either (they are demo parts).</summary>
    [Fact]
    public async Task A_redis_silo_without_configured_models_gets_no_simulator_models()
    {
        const string Key = "sk-3c8e1f6a9d2b7e4c0a5f8d1b";
        using var host = new RelayHost(new Dictionary<string, string?>
        {
            ["Relay:Store"] = "redis", ["Relay:Redis"] = _redis.ConnectionString, ["Relay:Tenants:t1:Keys:0"] = Key,
        });
        using var client = host.ClientFor(Key);

        var models = (await client.GetFromJsonAsync<JsonObject>("/v1/models"))!["data"]!.AsArray();

        Assert.Empty(models);
    }

    /// <summary>deploy/k8s/secret.yaml ships tenant keys such as REPLACE-ME-sk-acme-1: a Redis silo refuses them at start.</summary>
    [Fact]
    public void A_redis_silo_refuses_a_placeholder_tenant_key_from_the_deployment_files()
    {
        var failure = Record.Exception(() =>
        {
            using var host = new RelayHost(RelayHost.SimulatorSettings(
                ("Relay:Store", "redis"), ("Relay:Redis", _redis.ConnectionString), ("Relay:Tenants:acme:Keys:0", "REPLACE-ME-sk-acme-1")));
        });

        Assert.NotNull(failure);
        Assert.Contains("Relay:Tenants:acme:Keys:0 is too weak", failure.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_embedded_restart_after_the_demo_tenant_was_deleted_prints_no_demo_key()
    {
        using var data = new TempDirectory();
        var firstLogs = new LogCapture();
        using (var first = new RelayHost(RelayHost.SimulatorSettings(), data.Path, services => services.AddSingleton<ILoggerProvider>(firstLogs)))
        {
            Assert.Contains(firstLogs.Entries, e => e.Message.Contains("demo tenant 'demo' created with key sk-demo-", StringComparison.Ordinal));
            using var admin = first.ClientFor(RelayHost.AdminKey);
            Assert.True((await admin.DeleteAsync("/admin/tenants/demo")).IsSuccessStatusCode);
        }

        var logs = new LogCapture();
        using var second = new RelayHost(RelayHost.SimulatorSettings(), data.Path, services => services.AddSingleton<ILoggerProvider>(logs));

        Assert.DoesNotContain(logs.Entries, e => e.Message.Contains("sk-demo-", StringComparison.Ordinal));
        Assert.Contains(logs.Entries, e => e.Message.Contains("demo tenant 'demo' was deleted", StringComparison.Ordinal));
    }
}
