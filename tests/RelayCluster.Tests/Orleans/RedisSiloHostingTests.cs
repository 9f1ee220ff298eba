using System.Net;
using Microsoft.Extensions.DependencyInjection;
using RelayCluster.Silo.Hosting;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Orleans;

/// <summary>
/// The Redis store: the providers are chosen before the host is built, so the store must be known then. Until the Orleans
/// Redis providers are in, each silo process is a one-silo cluster on loopback, like the embedded default.
/// </summary>
public sealed class RedisSiloHostingTests : RedisRelay
{
    protected override (string Key, string? Value)[] Settings() => [];

    [Fact]
    public async Task A_redis_relay_knows_its_store_before_build_and_starts_its_silo()
    {
        Assert.True(Host.Services.GetRequiredService<OrleansPlan>().Cluster);

        using var anonymous = Host.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/readyz")).StatusCode);
        var silo = Assert.Single((await SiloHostingTests.ClusterAsync(Host))["silos"]!.AsArray())!;
        Assert.Equal("active", (string?)silo["status"]);
        Assert.Equal($"127.0.0.1:{Host.Services.GetRequiredService<SiloPort>().Value}", (string?)silo["endpoint"]);
    }
}
