using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace RelayCluster.Tests.Infrastructure;

/// <summary>
/// The real silo (its own Program) on real Kestrel over loopback, configured per test with the same
/// <c>Relay:*</c> keys a user would put in the environment. Each host has its own usage-log directory
/// unless a test passes one to restart over it.
/// </summary>
public sealed class RelayHost : WebApplicationFactory<Program>
{
    public const string AdminKey = "admin-test-key-9d4b2e7f1a6c3e8b"; // strong enough for the Redis store

    private readonly Dictionary<string, string?> _settings;
    private readonly TempDirectory? _ownedUsageDirectory;

    private readonly Action<IServiceCollection>? _replaceServices;

    public RelayHost(Dictionary<string, string?> settings, string? usageDirectory = null, Action<IServiceCollection>? replaceServices = null)
    {
        _replaceServices = replaceServices;
        _settings = new Dictionary<string, string?>(settings, StringComparer.Ordinal)
        {
            ["Relay:AdminKey"] = AdminKey,
            ["Logging:LogLevel:Default"] = "Warning",
            // The Orleans Dashboard adds about a quarter of a second to every silo start; its own tests turn it on.
            ["Relay:Orleans:Dashboard"] = "false",
        };
        if (usageDirectory is null)
        {
            _ownedUsageDirectory = new TempDirectory();
            usageDirectory = _ownedUsageDirectory.Path;
        }

        UsageDirectory = usageDirectory;
        _settings["Relay:UsageLog:Path"] = usageDirectory;
        foreach (var (key, value) in settings)
        {
            _settings[key] = value;
        }

        // Real Kestrel on a free loopback port. The port comes from configuration, not UseKestrel(port):
        // the factory's own port step clears the server's addresses and, with a minimal-hosting Program,
        // sometimes runs after the server started ("Addresses cannot be modified after the server has
        // started", about one run in three here).
        _settings["urls"] = "http://127.0.0.1:0";
        UseKestrel();
        StartServer();
    }

    public string UsageDirectory { get; }

    /// <summary>Default settings: the simulator and one model, mock-fast, priced like a cheap hosted model.</summary>
    public static Dictionary<string, string?> SimulatorSettings(params (string Key, string? Value)[] extra)
    {
        var settings = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["Relay:Providers:sim:Type"] = "simulator",
            ["Relay:Models:mock-fast:Provider"] = "sim",
            ["Relay:Models:mock-fast:InputPerMTok"] = "0.27",
            ["Relay:Models:mock-fast:OutputPerMTok"] = "1.10",
            ["Relay:Models:mock-embed:Provider"] = "sim",
            ["Relay:Models:mock-embed:InputPerMTok"] = "0.02",
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        return settings;
    }

    /// <summary>The real Kestrel address the relay listens on, e.g. <c>http://127.0.0.1:41234</c>.</summary>
    public Uri Address => new(Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    public HttpClient ClientFor(string key)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        client.Timeout = TimeSpan.FromSeconds(30);
        return client;
    }

    /// <summary>
    /// A client that really hangs up when a response is disposed unread: HttpClient's default drains up
    /// to 1 MB for two seconds to reuse the connection, which to the server looks like a reader.
    /// </summary>
    public HttpClient DisconnectingClientFor(string key)
    {
        var address = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = new Uri(address) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    public async Task<JsonObject> QuotaAsync(string tenant)
    {
        using var admin = ClientFor(AdminKey);
        return (await admin.GetFromJsonAsync<JsonObject>($"/admin/tenants/{tenant}/quota"))!;
    }

    public async Task<JsonObject> UsageAsync(string tenant)
    {
        using var admin = ClientFor(AdminKey);
        return (await admin.GetFromJsonAsync<JsonObject>($"/admin/tenants/{tenant}/usage"))!;
    }

    /// <summary>Polls the tenant's quota until nothing is in flight or reserved, or fails at the deadline.</summary>
    public async Task<JsonObject> WaitForIdleAsync(string tenant, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var quota = await QuotaAsync(tenant);
            if ((int)quota["in_flight"]! == 0 && (long)quota["reserved_nanos"]! == 0)
            {
                return quota;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Tenant {tenant} still busy: {quota.ToJsonString()}");
            }

            await Task.Delay(20);
        }
    }

    public static StringContent Json(object body) =>
        new(body as string ?? JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

    public static object Chat(string content, bool stream = false, object? extra = null)
    {
        var body = new JsonObject
        {
            ["model"] = "mock-fast",
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = content }),
        };
        if (stream)
        {
            body["stream"] = true;
        }

        if (extra is not null)
        {
            foreach (var (key, value) in JsonSerializer.SerializeToNode(extra)!.AsObject())
            {
                body[key] = value?.DeepClone();
            }
        }

        return body.ToJsonString();
    }

    /// <summary>
    /// The settings are also host configuration, which the factory hands to Program as command-line arguments: so
    /// they are in <c>builder.Configuration</c> from Program's first line, like a user's environment, and choices made
    /// before <c>Build()</c> (the Orleans providers) see them. App configuration alone arrives only at <c>Build()</c>.
    /// </summary>
    protected override IHost CreateHost(IHostBuilder builder)
    {
        builder.ConfigureHostConfiguration(config => config.AddInMemoryCollection(_settings.Where(s => s.Value is not null)));
        return base.CreateHost(builder);
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.ConfigureAppConfiguration(config => config.AddInMemoryCollection(_settings));
        if (_replaceServices is not null)
        {
            builder.ConfigureTestServices(_replaceServices);
        }
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        _ownedUsageDirectory?.Dispose();
    }
}
