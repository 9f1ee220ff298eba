using RelayCluster.Core.Configuration;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Routing;

namespace RelayCluster.Tests.Routing;

public sealed class ModelRouterTests
{
    private static RelayOptions Options(string? defaultModel = null) => new()
    {
        Providers = { ["p"] = new ProviderOptions { Type = "simulator" } },
        Models =
        {
            ["gpt-4.1"] = new ModelOptions { Provider = "p" },
            ["gpt-4.1-mini"] = new ModelOptions { Provider = "p", UpstreamModel = "upstream-mini" },
        },
        Aliases = { ["gpt-4"] = "gpt-4.1", ["gpt-4-*"] = "gpt-4.1", ["gpt-4-mini*"] = "gpt-4.1-mini" },
        DefaultModel = defaultModel,
    };

    [Theory]
    [InlineData("gpt-4.1", "gpt-4.1")]
    [InlineData("gpt-4", "gpt-4.1")]
    [InlineData("gpt-4-turbo", "gpt-4.1")]
    [InlineData("gpt-4-mini-2024", "gpt-4.1-mini")] // the longest matching prefix wins
    public void Resolves_models_then_exact_aliases_then_prefixes(string requested, string expected)
    {
        Assert.Equal(expected, new ModelRouter(Options()).Resolve(requested)?.Model);
    }

    [Fact]
    public void Unknown_models_resolve_to_nothing_unless_a_default_is_configured()
    {
        Assert.Null(new ModelRouter(Options()).Resolve("claude-3"));
        Assert.Equal("gpt-4.1-mini", new ModelRouter(Options("gpt-4.1-mini")).Resolve("claude-3")?.Model);
    }

    [Fact]
    public void A_route_carries_the_upstream_name_and_prices_in_nanodollars()
    {
        var route = ModelRoute.From("m", new ModelOptions { Provider = "p", UpstreamModel = "up", InputPerMTok = 0.27m, OutputPerMTok = 1.10m });
        Assert.Equal("up", route.UpstreamModel);
        Assert.Equal((1000 * 270) + (500 * 1100), route.CostNanos(1000, 500));
        Assert.Equal(1, Money.CostNanos(1, 0.0001m)); // a fraction of a nano-dollar rounds up, never to free
    }

    [Theory]
    [InlineData("*", "anything", true)]
    [InlineData("mock-*", "mock-fast", true)]
    [InlineData("mock-*", "gpt-4.1", false)]
    [InlineData("gpt-4.1", "gpt-4.1-mini", false)]
    public void Allowed_model_patterns_match_exact_names_and_prefixes(string pattern, string model, bool allowed)
    {
        Assert.Equal(allowed, new ModelPatterns([pattern]).Allows(model));
    }

    [Fact]
    public void The_validator_rejects_dangling_references()
    {
        var options = Options();
        options.Aliases["x"] = "missing";
        options.Models["y"] = new ModelOptions { Provider = "nope" };
        options.Tenants["t"] = new TenantOptions { Keys = [] };
        var result = new RelayOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.Contains("Aliases:x", StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f.Contains("Models:y", StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f.Contains("Tenants:t", StringComparison.Ordinal));
    }

    [Fact]
    public void The_validator_rejects_unknown_tokenizers_and_out_of_range_prompt_settings()
    {
        var options = Options();
        options.Models["a"] = new ModelOptions { Provider = "p", Tokenizer = "p50k" };
        options.Models["b"] = new ModelOptions { Provider = "p", CachedInputPerMTok = -1 };
        options.Models["c"] = new ModelOptions { Provider = "p", ImageTokenMultiplier = 0 };
        options.Models["d"] = new ModelOptions { Provider = "p", ImageTokensMax = 0 };
        options.Models["e"] = new ModelOptions { Provider = "p", Tokenizer = "cl100k_base", InputPerMTok = 1, CachedInputPerMTok = 0.5m, ImageTokenMultiplier = 2, FileTokensMax = 10 };

        // A cached price above the input price would let a bill pass the reservation, which prices the prompt at the input price.
        options.Models["f"] = new ModelOptions { Provider = "p", InputPerMTok = 1, CachedInputPerMTok = 1.25m };
        var failures = new RelayOptionsValidator().Validate(null, options).Failures!;
        foreach (var model in new[] { "a", "b", "c", "d", "f" })
        {
            Assert.Contains(failures, f => f.Contains($"Models:{model}", StringComparison.Ordinal));
        }

        Assert.DoesNotContain(failures, f => f.Contains("Models:e", StringComparison.Ordinal));
    }
}
