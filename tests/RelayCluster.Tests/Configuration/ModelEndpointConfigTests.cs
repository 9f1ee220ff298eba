using RelayCluster.Core.Configuration;
using RelayCluster.Core.Routing;

namespace RelayCluster.Tests.Configuration;

/// <summary>Which endpoint a model serves: configured, or inferred from its names; checked at start.</summary>
public sealed class ModelEndpointConfigTests
{
    [Theory]
    [InlineData("mock-fast", null, null, ModelEndpoints.Chat)]
    [InlineData("text-embedding-3-small", null, null, ModelEndpoints.Embeddings)]
    [InlineData("search", "nomic-embed-text", null, ModelEndpoints.Embeddings)]
    [InlineData("mock-embed", null, "chat", ModelEndpoints.Chat)]
    [InlineData("vectors", null, "embeddings", ModelEndpoints.Embeddings)]
    public void The_endpoint_is_the_configured_one_else_inferred_from_the_names(string name, string? upstream, string? endpoint, string expected) =>
        Assert.Equal(expected, ModelRoute.From(name, new ModelOptions { Provider = "p", UpstreamModel = upstream, Endpoint = endpoint }).Endpoint);

    [Fact]
    public void The_demo_models_say_their_endpoint_explicitly()
    {
        var options = new RelayOptions();
        RelayOptionsDefaults.Apply(options);

        Assert.Equal(ModelEndpoints.Chat, options.Models["mock-fast"].Endpoint);
        Assert.Equal(ModelEndpoints.Embeddings, options.Models["mock-embed"].Endpoint);
    }

    [Fact]
    public void An_unknown_endpoint_or_a_configured_route_mixing_kinds_stops_the_start()
    {
        var options = new RelayOptions();
        RelayOptionsDefaults.Apply(options);
        options.Models["mock-fast"].Endpoint = "completions";
        options.Routes["mixed"] = new RouteDefinition { Targets = [new RouteTarget { Model = "mock-embed" }], Batch = [new RouteTarget { Model = "mock-fast" }] };

        var result = new RelayOptionsValidator().Validate(null, options);

        Assert.False(result.Succeeded);
        Assert.Contains("Relay:Models:mock-fast:Endpoint must be 'chat' or 'embeddings', not 'completions'.", result.FailureMessage, StringComparison.Ordinal);

        options.Models["mock-fast"].Endpoint = null;
        result = new RelayOptionsValidator().Validate(null, options);
        Assert.False(result.Succeeded);
        Assert.Contains("Relay:Routes:mixed targets: a route serves one endpoint", result.FailureMessage, StringComparison.Ordinal);
    }
}
