using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using RelayCluster.MockUpstream;

namespace RelayCluster.Tests.Infrastructure;

/// <summary>The standalone MockUpstream server on a free loopback port, for the openai provider's tests.</summary>
internal sealed class MockUpstreamHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private MockUpstreamHost(WebApplication app, string baseUrl)
    {
        _app = app;
        BaseUrl = baseUrl;
    }

    public string BaseUrl { get; }

    public static async Task<MockUpstreamHost> StartAsync(params string[] args)
    {
        var app = MockUpstreamApp.Build([.. args, "--urls", "http://127.0.0.1:0"]);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new MockUpstreamHost(app, address + "/v1");
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
