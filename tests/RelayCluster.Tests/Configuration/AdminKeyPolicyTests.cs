using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RelayCluster.Core.Configuration;
using RelayCluster.Silo.Hosting;

namespace RelayCluster.Tests.Configuration;

/// <summary>A deployed relay (Redis store, or listening beyond loopback) refuses to start with a weak admin key.</summary>
public sealed class AdminKeyPolicyTests
{
    private const string Strong = "3f9c1a7e5b2d8c4f6a0e9b1d7c3a5f2e";

    [Theory]
    [InlineData("admin-compose-change-me", "placeholder")]
    [InlineData("REPLACE-ME-admin-key-0123456789", "placeholder")]
    [InlineData("admin-test", "shorter")]
    [InlineData("aaaaaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb", "distinct")]
    public void Weak_keys_are_named_with_the_reason(string key, string reason) =>
        Assert.Contains(reason, AdminKeyPolicy.Weakness(key), StringComparison.Ordinal);

    [Fact]
    public void A_long_random_key_is_acceptable() => Assert.Null(AdminKeyPolicy.Weakness(Strong));

    [Theory]
    [InlineData("http://127.0.0.1:8080", true)]
    [InlineData("http://localhost:5000;https://[::1]:5001", true)]
    [InlineData("http://0.0.0.0:8080", false)]
    [InlineData("http://*:8080", false)]
    [InlineData("http://+:8080", false)]
    [InlineData("http://[::]:8080", false)]
    [InlineData("http://127.0.0.1:8080;http://10.0.0.5:8080", false)]
    public void Only_loopback_addresses_count_as_private(string urls, bool loopbackOnly) =>
        Assert.Equal(loopbackOnly, AdminKeyPolicy.IsLoopbackOnly([urls]));

    [Theory]
    [InlineData("redis", null, "admin-compose-change-me", "placeholder")]
    [InlineData("redis", null, "admin-test", "shorter than 24")]
    [InlineData("redis", null, null, "every silo must share one admin key")]
    [InlineData("memory", "http://0.0.0.0:8080", "admin-short", "listens on http://0.0.0.0:8080")]
    public void A_deployed_relay_with_a_weak_or_missing_key_fails_at_start(string store, string? urls, string? adminKey, string message)
    {
        var failure = Assert.Throws<OptionsValidationException>(() => Options(store, urls, adminKey));
        Assert.Contains("Relay:AdminKey", failure.Message, StringComparison.Ordinal);
        Assert.Contains(message, failure.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("memory", null, "admin")] // the embedded demo on loopback: any key
    [InlineData("memory", "http://0.0.0.0:8080", null)] // exposed, but the generated key is random and printed once
    [InlineData("redis", "http://0.0.0.0:8080", Strong)]
    public void The_embedded_demo_and_strong_keys_start(string store, string? urls, string? adminKey) =>
        Assert.NotNull(Options(store, urls, adminKey));

    [Theory]
    [InlineData("--Relay:Streams:TokenSecret=too-short", "at least 32 characters")]
    [InlineData("--Relay:Streams:PreviousTokenSecret=an-old-secret-without-a-current-one-0123", "needs a Relay:Streams:TokenSecret")]
    [InlineData("--Relay:Streams:ClientSendTimeoutSeconds=0", "ClientSendTimeoutSeconds must be positive")]
    public void Bad_stream_security_settings_fail_at_start(string setting, string message)
    {
        string[] args = [setting];
        var builder = WebApplication.CreateBuilder(args).AddRelayConfiguration(args);
        builder.Services.AddRelay();
        using var app = builder.Build();

        var failure = Assert.Throws<OptionsValidationException>(() => app.Services.GetRequiredService<IOptions<StreamSecurityOptions>>().Value);
        Assert.Contains(message, failure.Message, StringComparison.Ordinal);
    }

    private static RelayOptions Options(string store, string? urls, string? adminKey)
    {
        List<string> args = [$"--Relay:Store={store}", "--Relay:Redis=127.0.0.1:1,abortConnect=false"];
        if (urls is not null)
        {
            args.Add($"--urls={urls}");
        }

        if (adminKey is not null)
        {
            args.Add($"--Relay:AdminKey={adminKey}");
        }

        var builder = WebApplication.CreateBuilder([.. args]).AddRelayConfiguration([.. args]);
        builder.Services.AddRelay();
        using var app = builder.Build();
        return app.Services.GetRequiredService<IOptions<RelayOptions>>().Value;
    }
}
