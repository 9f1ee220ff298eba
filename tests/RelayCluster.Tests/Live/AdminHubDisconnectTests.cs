using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using RelayCluster.Silo.Console.Live;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Live;

/// <summary>
/// A console that goes away (tab closed, network lost) leaves nothing watching: its watcher is removed and, once no
/// connection watches, the grains stop publishing (<see cref="LiveFeed.Watched"/> false), also when it went while its
/// watch was still being answered.
/// </summary>
public sealed class AdminHubDisconnectTests
{
    [Fact]
    public async Task Connections_that_leave_mid_watch_leave_no_watcher_behind()
    {
        using var host = new RelayHost(RelayHost.SimulatorSettings([.. Enumerable.Range(0, 40).Select(i => ($"Relay:Tenants:w{i}:Keys:0", (string?)$"sk-leave-{i}-4d7e1a9c"))]));
        var watchers = host.Services.GetRequiredService<AdminWatchers>();
        var feed = host.Services.GetRequiredService<LiveFeed>();
        var token = await AdminHubClient.TokenAsync(host.Address);

        await using (var kept = await AdminHubClient.ConnectAsync(host.Address, token))
        {
            await kept.WatchTenantsAsync();
            Assert.True(watchers.AnyWatching && feed.Watched);
        }

        for (var i = 0; i < 12; i++)
        {
            var connection = new HubConnectionBuilder()
                .WithUrl(new Uri(host.Address, "/hubs/admin"), o => o.AccessTokenProvider = () => Task.FromResult<string?>(token))
                .Build();
            await connection.StartAsync();
            var watch = connection.InvokeAsync<JsonElement>(i % 2 == 0 ? "WatchTenants" : "WatchBatches");
            await connection.DisposeAsync(); // gone while its watch is answered
            await Assert.ThrowsAnyAsync<Exception>(() => watch);
        }

        await Eventually.WaitAsync(() => Task.FromResult(watchers.AnyWatching || feed.Watched), watching => !watching);
        Assert.False(watchers.AnyWatching, "a watcher of a closed connection is left");
        Assert.False(feed.Watched, "the grains still publish for nobody");
    }
}
