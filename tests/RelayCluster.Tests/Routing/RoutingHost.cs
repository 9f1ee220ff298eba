using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Routing;

/// <summary>
/// Two MockUpstream servers as two providers (<c>primary</c>, <c>secondary</c>) behind one relay, with a model
/// on each (<c>cheap</c> on primary, <c>dear</c> on secondary, at different prices) and a tenant allowed every
/// model. Each test adds its routes and resilience settings.
/// </summary>
internal sealed class RoutingHost : IAsyncDisposable
{
    public const string Key = "sk-routing";
    public const string UpstreamKey = "upstream-secret";

    private RoutingHost(MockUpstreamHost primary, MockUpstreamHost secondary, RelayHost relay)
    {
        Primary = primary;
        Secondary = secondary;
        Relay = relay;
    }

    public MockUpstreamHost Primary { get; }

    public MockUpstreamHost Secondary { get; }

    public RelayHost Relay { get; }

    /// <summary>Starts both upstreams and the relay; <paramref name="primaryUrl"/> replaces the primary's URL (a dead port).</summary>
    public static async Task<RoutingHost> StartAsync(string? primaryUrl = null, params (string Key, string? Value)[] settings)
    {
        var primary = await MockUpstreamHost.StartAsync("--api-key", UpstreamKey);
        var secondary = await MockUpstreamHost.StartAsync("--api-key", UpstreamKey);
        var relay = new RelayHost(RelayHost.SimulatorSettings(
        [
            ("Relay:Providers:primary:Type", "openai"),
            ("Relay:Providers:primary:BaseUrl", primaryUrl ?? primary.BaseUrl),
            ("Relay:Providers:primary:ApiKey", UpstreamKey),
            ("Relay:Providers:primary:Resilience:BaseDelayMs", "1"),
            ("Relay:Providers:primary:Resilience:MaxDelayMs", "5"),
            ("Relay:Providers:secondary:Type", "openai"),
            ("Relay:Providers:secondary:BaseUrl", secondary.BaseUrl),
            ("Relay:Providers:secondary:ApiKey", UpstreamKey),
            ("Relay:Models:cheap:Provider", "primary"),
            ("Relay:Models:cheap:UpstreamModel", "mock-fast"),
            ("Relay:Models:cheap:InputPerMTok", "0.1"),
            ("Relay:Models:cheap:OutputPerMTok", "0.2"),
            ("Relay:Models:dear:Provider", "secondary"),
            ("Relay:Models:dear:UpstreamModel", "mock-fast"),
            ("Relay:Models:dear:InputPerMTok", "3"),
            ("Relay:Models:dear:OutputPerMTok", "15"),
            ("Relay:Tenants:t:Keys:0", Key),
            ("Relay:Tenants:t:Models:0", "*"),
            .. settings,
        ]));
        return new RoutingHost(primary, secondary, relay);
    }

    /// <summary>The fallback chain <c>chat</c>: cheap (primary), then dear (secondary).</summary>
    public static (string, string?)[] ChainRoute => [("Relay:Routes:chat:Targets:0:Model", "cheap"), ("Relay:Routes:chat:Targets:1:Model", "dear")];

    public static string Chat(string model, string content, bool stream = false, object? extra = null) =>
        ((string)RelayHost.Chat(content, stream, extra)).Replace("\"mock-fast\"", $"\"{model}\"", StringComparison.Ordinal);

    /// <summary>Sets (or with null clears) a whole-server fault on a MockUpstream.</summary>
    public static async Task FaultAsync(MockUpstreamHost upstream, int? status)
    {
        using var http = new HttpClient();
        using var response = await http.PostAsync(Root(upstream) + "/mock/fault", RelayHost.Json(new { status }));
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Model calls that reached a MockUpstream.</summary>
    public static async Task<long> CallsAsync(MockUpstreamHost upstream)
    {
        using var http = new HttpClient();
        return (long)(await http.GetFromJsonAsync<JsonObject>(Root(upstream) + "/mock/stats"))!["calls"]!;
    }

    public async ValueTask DisposeAsync()
    {
        Relay.Dispose();
        await Primary.DisposeAsync();
        await Secondary.DisposeAsync();
    }

    private static string Root(MockUpstreamHost upstream) => upstream.BaseUrl[..^"/v1".Length];
}
