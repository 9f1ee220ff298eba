using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RelayCluster.Core.Configuration;
using RelayCluster.Silo.Hosting;

namespace RelayCluster.Tests.Configuration;

/// <summary>
/// Every configured secret of a deployed relay (Redis store, or listening beyond loopback) is held to the admin key's
/// rules: placeholder tenant keys from the shipped deployment files and a placeholder stream token secret are refused
/// at start. A tenant key equal to the admin key is refused in every mode.
/// </summary>
public sealed class DeployedSecretsTests
{
    private const string StrongAdmin = "3f9c1a7e5b2d8c4f6a0e9b1d7c3a5f2e";
    private const string StrongTenant = "sk-7d2e9a41c6b03f58e1d4a9c2";

    [Theory]
    [InlineData("redis", null, "Relay:Tenants:acme:Keys:0", "REPLACE-ME-sk-acme-1", "placeholder")] // deploy/k8s/secret.yaml
    [InlineData("redis", null, "Relay:Tenants:demo:Keys:0", "sk-demo-compose", "shorter than 24")] // the old docker-compose.yml
    [InlineData("memory", "http://0.0.0.0:8080", "Relay:Tenants:acme:Keys:0", "sk-acme-1", "shorter than 24")]
    [InlineData("redis", null, "Relay:Streams:TokenSecret", "change-me-change-me-change-me-change-me", "placeholder")]
    [InlineData("redis", null, "Relay:Streams:TokenSecret", "abababababababababababababababababab", "distinct")]
    public void A_deployed_relay_refuses_a_weak_secret_naming_the_setting_but_not_the_value(string store, string? urls, string key, string value, string reason)
    {
        var failure = Assert.Throws<OptionsValidationException>(() => Options(store, urls, (key, value)));

        Assert.Contains($"{key} is too weak", failure.Message, StringComparison.Ordinal);
        Assert.Contains(reason, failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(value, failure.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("redis", null)]
    [InlineData("memory", "http://0.0.0.0:8080")]
    public void A_deployed_relay_starts_with_strong_secrets(string store, string? urls)
    {
        var options = Options(store, urls, ("Relay:Tenants:acme:Keys:0", StrongTenant), ("Relay:Streams:TokenSecret", "9b1d7c3a5f2e3f9c1a7e5b2d8c4f6a0e"));

        Assert.Equal(StrongTenant, options.Tenants["acme"].Keys[0]);
    }

    [Fact]
    public void The_embedded_demo_on_loopback_keeps_short_tenant_keys() =>
        Assert.NotNull(Options("memory", null, ("Relay:Tenants:acme:Keys:0", "sk-acme-1")));

    [Theory]
    [InlineData("memory", null)]
    [InlineData("redis", null)]
    public void A_tenant_key_equal_to_the_admin_key_is_refused_in_every_mode(string store, string? urls)
    {
        var failure = Assert.Throws<OptionsValidationException>(() => Options(store, urls, ("Relay:Tenants:acme:Keys:0", StrongAdmin)));

        Assert.Contains("Relay:Tenants:acme has a key equal to Relay:AdminKey", failure.Message, StringComparison.Ordinal);
    }

    private static RelayOptions Options(string store, string? urls, params (string Key, string Value)[] settings)
    {
        List<string> args = [$"--Relay:Store={store}", "--Relay:Redis=127.0.0.1:1,abortConnect=false", $"--Relay:AdminKey={StrongAdmin}"];
        if (urls is not null)
        {
            args.Add($"--urls={urls}");
        }

        args.AddRange(settings.Select(s => $"--{s.Key}={s.Value}"));
        var builder = WebApplication.CreateBuilder([.. args]).AddRelayConfiguration([.. args]);
        builder.Services.AddRelay();
        using var app = builder.Build();
        return app.Services.GetRequiredService<IOptions<RelayOptions>>().Value;
    }
}
