using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using RelayCluster.Silo.Hosting;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Orleans;

/// <summary>Every relay process co-hosts an Orleans silo: on a free loopback port unless one is set, ready only once active.</summary>
public sealed class SiloHostingTests
{
    [Fact]
    public async Task The_relay_starts_with_an_active_silo_and_lists_it_in_admin_cluster()
    {
        using var host = new RelayHost(RelayHost.SimulatorSettings());
        var port = host.Services.GetRequiredService<SiloPort>().Value;

        using var anonymous = host.CreateClient();
        using var ready = await anonymous.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("ready", await ready.Content.ReadAsStringAsync());

        var cluster = await ClusterAsync(host);
        Assert.Equal("cluster", (string?)cluster["object"]);
        Assert.Equal("relaycluster", (string?)cluster["service_id"]);
        var silo = Assert.Single(cluster["silos"]!.AsArray())!;
        Assert.Equal("active", (string?)silo["status"]);
        Assert.Equal($"127.0.0.1:{port}", (string?)silo["endpoint"]);
        Assert.True((bool)silo["this_silo"]!);
        Assert.InRange((long)silo["started_at"]!, DateTimeOffset.UtcNow.AddMinutes(-5).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeSeconds());
        await AssertListensAsync(port);
    }

    [Fact]
    public async Task Two_relays_at_once_get_different_silo_ports_and_separate_clusters()
    {
        var starting = new[] { Task.Run(() => new RelayHost(RelayHost.SimulatorSettings())), Task.Run(() => new RelayHost(RelayHost.SimulatorSettings())) };
        var hosts = await Task.WhenAll(starting);
        try
        {
            var ports = hosts.Select(h => h.Services.GetRequiredService<SiloPort>().Value).ToArray();
            Assert.NotEqual(ports[0], ports[1]);
            foreach (var (host, port) in hosts.Zip(ports))
            {
                var silo = Assert.Single((await ClusterAsync(host))["silos"]!.AsArray())!; // each its own one-silo cluster
                Assert.Equal($"127.0.0.1:{port}", (string?)silo["endpoint"]);
                Assert.Equal("active", (string?)silo["status"]);
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
    public async Task A_configured_silo_port_is_honoured()
    {
        var port = FreePort();
        using var host = new RelayHost(RelayHost.SimulatorSettings(("Relay:SiloPort", port.ToString(System.Globalization.CultureInfo.InvariantCulture))));

        Assert.Equal(port, host.Services.GetRequiredService<SiloPort>().Value);
        var silo = Assert.Single((await ClusterAsync(host))["silos"]!.AsArray())!;
        Assert.Equal($"127.0.0.1:{port}", (string?)silo["endpoint"]);
        await AssertListensAsync(port);
    }

    [Theory]
    [InlineData("Relay:SiloPort", "0", "Relay:SiloPort")]
    [InlineData("Relay:SiloPort", "http", "Relay:SiloPort")]
    [InlineData("Relay:Orleans:ClusterId", "a cluster", "Relay:Orleans:ClusterId")]
    public void Invalid_orleans_settings_stop_the_start(string key, string value, string named)
    {
        var error = Assert.ThrowsAny<Exception>(() => new RelayHost(RelayHost.SimulatorSettings((key, value))));
        Assert.Contains(named, Flatten(error), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Readyz_is_503_while_the_silo_is_not_active()
    {
        using var host = new RelayHost(RelayHost.SimulatorSettings(), replaceServices: services =>
            services.Replace(ServiceDescriptor.Singleton<ISiloHealth>(new InactiveSilo())));

        using var anonymous = host.CreateClient();
        using var response = await anonymous.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("silo not active", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public void A_chosen_port_is_held_until_the_silo_takes_it()
    {
        using var chosen = SiloPort.From(new OrleansOptions());
        Assert.InRange(chosen.Value, 20000, 32767);
        using (var rival = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            Assert.Throws<SocketException>(() => rival.Bind(new IPEndPoint(IPAddress.Loopback, chosen.Value)));
        }

        chosen.Dispose(); // what the silo lifecycle's first stage does
        using var silo = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        silo.Bind(new IPEndPoint(IPAddress.Loopback, chosen.Value));
    }

    internal static async Task<JsonObject> ClusterAsync(RelayHost host)
    {
        using var admin = host.ClientFor(RelayHost.AdminKey);
        return (await admin.GetFromJsonAsync<JsonObject>("/admin/cluster"))!;
    }

    private static async Task AssertListensAsync(int port)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port); // refused if the silo does not listen there
        Assert.True(client.Connected);
    }

    /// <summary>A free port below the ephemeral range, so the test's own outgoing connections cannot take it meanwhile.</summary>
    private static int FreePort()
    {
        using var free = SiloPort.From(new OrleansOptions());
        return free.Value;
    }

    private static string Flatten(Exception error) => error.InnerException is null ? error.Message : $"{error.Message} | {Flatten(error.InnerException)}";

    private sealed class InactiveSilo : ISiloHealth
    {
        public bool IsActive => false;
    }
}
