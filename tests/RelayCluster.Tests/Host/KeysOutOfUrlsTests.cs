using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RelayCluster.Silo.Hosting;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>Tenant keys are never taken from a URL, and URLs (with their query strings) never reach the logs.</summary>
public sealed class KeysOutOfUrlsTests
{
    private const string Key = "sk-url-tests-key-5d1e";

    [Fact]
    public async Task The_completions_hub_refuses_a_key_in_the_query_string_and_takes_it_from_the_header()
    {
        using var host = new RelayHost(RelayHost.SimulatorSettings(("Relay:Tenants:t1:Keys:0", Key)));
        using var anonymous = host.CreateClient();

        using var inQuery = await anonymous.PostAsync($"/hubs/completions/negotiate?negotiateVersion=1&access_token={Key}", null);
        Assert.Equal(HttpStatusCode.Unauthorized, inQuery.StatusCode);
        var error = (await inQuery.Content.ReadFromJsonAsync<JsonObject>())!["error"]!;
        Assert.Equal("invalid_api_key", (string?)error["code"]);
        Assert.Contains("Authorization header", (string?)error["message"], StringComparison.Ordinal);
        Assert.DoesNotContain(Key, (string?)error["message"], StringComparison.Ordinal);

        using var client = host.ClientFor(Key);
        using var inHeader = await client.PostAsync("/hubs/completions/negotiate?negotiateVersion=1", null);
        Assert.Equal(HttpStatusCode.OK, inHeader.StatusCode);
    }

    [Fact]
    public async Task Request_urls_stay_out_of_the_logs_even_when_the_framework_logs_at_information()
    {
        var capture = new LogCapture();
        // As a silo started away from its appsettings.json with the level raised: the request log stays pinned.
        using var host = new RelayHost(
            RelayHost.SimulatorSettings(("Relay:Tenants:t1:Keys:0", Key), ("Logging:LogLevel:Default", "Information"), ("Logging:LogLevel:Microsoft.AspNetCore", "Information")),
            replaceServices: services => services.AddSingleton<ILoggerProvider>(capture));
        using var client = host.ClientFor(Key);
        const string Secret = "query-secret-7f3a";

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/v1/models?probe={Secret}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.CreateClient().PostAsync($"/hubs/completions/negotiate?access_token={Secret}", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/v1/chat/completions?probe={Secret}", RelayHost.Json(RelayHost.Chat("hi")))).StatusCode);

        Assert.Contains(capture.Entries, e => e.Category.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal)); // the capture works
        Assert.DoesNotContain(capture.Entries, e => e.Message.Contains(Secret, StringComparison.Ordinal));
        Assert.DoesNotContain(capture.Entries, e => e.Category == RelayLogging.RequestLogCategory && e.Level < LogLevel.Warning);
    }

    [Fact]
    public void The_log_level_defaults_are_set_in_code_below_every_source()
    {
        using var empty = new TempDirectory(); // no appsettings.json here
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = empty.Path, Args = [] }).AddRelayConfiguration([]);

        Assert.Equal("Warning", builder.Configuration["Logging:LogLevel:Microsoft.AspNetCore"]);
        Assert.Equal("Warning", builder.Configuration["Logging:LogLevel:System.Net.Http.HttpClient"]);
        Assert.Equal("Information", builder.Configuration["Logging:LogLevel:Default"]);

        string[] args = ["--Logging:LogLevel:Microsoft.AspNetCore=Error"];
        var overridden = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = empty.Path, Args = args }).AddRelayConfiguration(args);
        Assert.Equal("Error", overridden.Configuration["Logging:LogLevel:Microsoft.AspNetCore"]);
    }
}
