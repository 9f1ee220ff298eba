using Microsoft.AspNetCore.Builder;
using RelayCluster.Core.Configuration;
using RelayCluster.Silo.Hosting;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Configuration;

public sealed class RelayConfigurationTests
{
    [Fact]
    public void A_config_file_overrides_appsettings_and_the_command_line_overrides_it()
    {
        using var directory = new TempDirectory();
        var file = Path.Combine(directory.Path, "relay.json");
        File.WriteAllText(file, """{ "Relay": { "AdminKey": "from-file", "DefaultModel": "from-file" } }""");
        string[] args = ["--config", file, "--Relay:DefaultModel=from-command-line"];

        var builder = WebApplication.CreateBuilder(args).AddRelayConfiguration(args);

        Assert.Equal("from-file", builder.Configuration["Relay:AdminKey"]);
        Assert.Equal("from-command-line", builder.Configuration["Relay:DefaultModel"]);
    }

    [Fact]
    public void A_missing_config_file_stops_the_start()
    {
        string[] args = ["--config", "/nonexistent/relay.json"];
        Assert.Throws<FileNotFoundException>(() => WebApplication.CreateBuilder(args).AddRelayConfiguration(args));
    }

    [Fact]
    public void An_empty_configuration_gets_a_working_demo_setup()
    {
        var options = new RelayOptions();
        RelayOptionsDefaults.Apply(options);

        Assert.Equal("simulator", options.Providers["sim"].Type);
        Assert.Contains("mock-fast", options.Models.Keys);
        var demo = options.Tenants["demo"];
        Assert.StartsWith("sk-demo-", Assert.Single(demo.Keys), StringComparison.Ordinal);
        Assert.True(options.DemoTenantCreated);
        Assert.True(options.AdminKeyGenerated);
        Assert.True(new RelayOptionsValidator().Validate(null, options).Succeeded);
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1023, false)]
    [InlineData(1024, true)]
    public void A_response_bound_too_small_for_any_answer_stops_the_start(long maxResponseBytes, bool valid)
    {
        var options = new RelayOptions();
        RelayOptionsDefaults.Apply(options);
        options.Requests.MaxResponseBytes = maxResponseBytes;

        var result = new RelayOptionsValidator().Validate(null, options);

        Assert.Equal(valid, result.Succeeded);
        if (!valid)
        {
            Assert.Contains("Relay:Requests:MaxResponseBytes", result.FailureMessage, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Configured_tenants_and_keys_get_no_demo_defaults()
    {
        var options = new RelayOptions
        {
            AdminKey = "mine",
            Tenants = { ["acme"] = new TenantOptions { Keys = ["sk-acme"] } },
        };
        RelayOptionsDefaults.Apply(options);

        Assert.Equal(["acme"], options.Tenants.Keys);
        Assert.Equal(["*"], options.Tenants["acme"].Models);
        Assert.Equal("mine", options.AdminKey);
        Assert.False(options.DemoTenantCreated || options.AdminKeyGenerated);
    }
}
