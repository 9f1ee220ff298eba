using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RelayCluster.Core.Configuration;
using RelayCluster.Silo.Hosting;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Configuration;

/// <summary>
/// A malformed value anywhere under Relay stops the silo at start with the key and value named. The binder skips a
/// dictionary entry it cannot convert, so a typo in one tenant or model used to drop that whole section, and the demo
/// defaults (demo tenant, simulator models) silently filled the gap.
/// </summary>
public sealed class MalformedValueTests
{
    [Theory]
    [InlineData("Relay:Tenants:t1:MonthlyBudgetUsd", "10usd")]
    [InlineData("Relay:Tenants:t1:RequestsPerMinute", "1e3")]
    [InlineData("Relay:Tenants:t1:MaxFileBytes", "1GB")]
    [InlineData("Relay:Models:mock-fast:MaxOutputTokens", "abc")]
    [InlineData("Relay:Models:mock-fast:InputPerMTok", "0,27")]
    [InlineData("Relay:Providers:sim:Simulator:OutputTokens", "many")]
    [InlineData("Relay:Providers:sim:Resilience:MaxAttempts", "3x")]
    [InlineData("Relay:Routes:mock-fast:Shadow:Percent", "half")]
    [InlineData("Relay:Batches:ChunkSize", "big")]
    [InlineData("Relay:Files:MaxUploadBytes", "1e9")]
    [InlineData("Relay:Streams:MaxEntries", "1e5")]
    [InlineData("Relay:Streams:ClientSendTimeoutSeconds", "30s")]
    [InlineData("Relay:FailOpenRateLimits", "yes")]
    public void A_malformed_value_stops_the_silo_naming_key_and_value(string key, string value)
    {
        var failure = Assert.ThrowsAny<Exception>(() => Start(("Relay:Tenants:t1:Keys:0", "sk-typo-tenant-key"), ("Relay:Tenants:t1:MonthlyBudgetUsd", "5"), (key, value)));

        Assert.Contains(key, failure.Message, StringComparison.Ordinal);
        Assert.Contains(value, failure.Message, StringComparison.Ordinal);
    }

    /// <summary>The reviewer's repro on the real host: the silo does not start (no demo tenant, no 401 for configured keys).</summary>
    [Theory]
    [InlineData("Relay:Tenants:t1:MonthlyBudgetUsd", "10usd")]
    [InlineData("Relay:Tenants:t1:RequestsPerMinute", "1e3")]
    [InlineData("Relay:Models:mock-fast:MaxOutputTokens", "abc")]
    public void A_malformed_number_in_a_tenant_or_model_stops_the_host(string key, string value)
    {
        var failure = Record.Exception(() =>
        {
            using var host = new RelayHost(RelayHost.SimulatorSettings(
                ("Relay:Tenants:t1:Keys:0", "sk-review-typo-key"), ("Relay:Tenants:t1:MonthlyBudgetUsd", "5"), (key, value)));
        });

        Assert.NotNull(failure);
        Assert.Contains($"{key} is '{value}'", failure.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Well_formed_values_of_every_kind_start()
    {
        var options = Start(
            ("Relay:Tenants:t1:Keys:0", "sk-fine-tenant-key"), ("Relay:Tenants:t1:MonthlyBudgetUsd", "10.5"), ("Relay:Tenants:t1:RequestsPerMinute", "1000"),
            ("Relay:Models:mock-fast:MaxOutputTokens", "4096"), ("Relay:FailOpenRateLimits", "true"), ("Relay:Streams:MaxEntries", "5000"));

        Assert.Equal(10.5m, options.Tenants["t1"].MonthlyBudgetUsd);
        Assert.Equal(4096, options.Models["mock-fast"].MaxOutputTokens);
    }

    private static RelayOptions Start(params (string Key, string Value)[] settings)
    {
        string[] args = [.. RelayHost.SimulatorSettings().Select(s => $"--{s.Key}={s.Value}"), .. settings.Select(s => $"--{s.Key}={s.Value}")];
        var builder = WebApplication.CreateBuilder(args).AddRelayConfiguration(args);
        builder.Services.AddRelay();
        using var app = builder.Build();
        _ = app.Services.GetRequiredService<IOptions<Core.Streams.StreamSettings>>().Value;
        return app.Services.GetRequiredService<IOptions<RelayOptions>>().Value;
    }
}
