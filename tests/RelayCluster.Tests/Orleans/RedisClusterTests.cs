using System.Net;
using Microsoft.Extensions.DependencyInjection;
using System.Text.Json.Nodes;
using RelayCluster.Silo.Hosting;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Orleans;

/// <summary>On the Redis store the co-hosted silos form one Orleans cluster: membership on the relay's Redis.</summary>
public sealed class RedisClusterTests : IAsyncLifetime
{
    private readonly RedisServer _redis = new();

    public Task InitializeAsync() => _redis.InitializeAsync();

    public Task DisposeAsync() => _redis.DisposeAsync();

    [Fact]
    public async Task Two_relays_on_one_redis_form_one_cluster_and_each_lists_both_silos_active()
    {
        var starting = new[] { Task.Run(StartRelay), Task.Run(StartRelay) };
        var hosts = await Task.WhenAll(starting);
        try
        {
            var ports = hosts.Select(h => h.Services.GetRequiredService<SiloPort>().Value).ToArray();
            Assert.NotEqual(ports[0], ports[1]); // two silos on one machine: a free port each
            var expected = ports.Select(p => $"127.0.0.1:{p}").Order().ToArray();
            foreach (var host in hosts)
            {
                // Both started: each is Active, but a silo learns of a peer that joined after it when it next reads the table.
                var cluster = await Eventually.WaitAsync(() => SiloHostingTests.ClusterAsync(host),
                    c => c["silos"]!.AsArray().Count(s => (string?)s!["status"] == "active") == 2, TimeSpan.FromSeconds(30));
                var active = cluster!["silos"]!.AsArray().Where(s => (string?)s!["status"] == "active").ToArray();
                Assert.Equal(expected, active.Select(s => (string?)s!["endpoint"]).Order().ToArray());
                Assert.Single(active, s => (bool)s!["this_silo"]!);
                Assert.Equal("relaycluster", (string?)cluster["service_id"]);
                Assert.Equal("relay", (string?)cluster["cluster_id"]);

                using var anonymous = host.CreateClient();
                using var ready = await anonymous.GetAsync("/readyz");
                Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            }
        }
        finally
        {
            foreach (var host in hosts)
            {
                host.Dispose();
            }
        }
    }

    [Fact]
    public void The_advertised_address_is_loopback_by_default_an_ip_as_given_or_a_resolved_host_name()
    {
        Assert.Equal(IPAddress.Loopback, OrleansHosting.AdvertisedAddress(null));
        Assert.Equal(IPAddress.Parse("10.1.2.3"), OrleansHosting.AdvertisedAddress("10.1.2.3"));
        Assert.Equal(IPAddress.Loopback, OrleansHosting.AdvertisedAddress("localhost"));
        var error = Assert.ThrowsAny<Exception>(() => OrleansHosting.AdvertisedAddress("no-such-host.invalid"));
        Assert.Contains(OrleansOptions.AdvertisedAddressKey, error.Message, StringComparison.Ordinal);
    }

    private RelayHost StartRelay() => new(RelayHost.SimulatorSettings(
        ("Relay:Store", "redis"),
        ("Relay:Redis", _redis.ConnectionString),
        ("Relay:Tenants:acme:Keys:0", "sk-acme-cluster-key-4e8b1f7a2c9d")));
}
