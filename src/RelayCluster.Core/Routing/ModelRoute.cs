using RelayCluster.Core.Configuration;
using RelayCluster.Core.Metering;

namespace RelayCluster.Core.Routing;

/// <summary>Where a model name leads: the configured model, its provider, upstream name and prices.</summary>
public sealed record ModelRoute(
    string Model, string ProviderId, string UpstreamModel, decimal InputPerMTok, decimal OutputPerMTok, int DefaultMaxOutputTokens, long Created, string OwnedBy)
{
    public static ModelRoute From(string model, ModelOptions options) => new(
        model, options.Provider, options.UpstreamModel ?? model, options.InputPerMTok, options.OutputPerMTok,
        options.DefaultMaxOutputTokens, options.Created, options.OwnedBy);

    public long CostNanos(long promptTokens, long completionTokens) =>
        Money.CostNanos(promptTokens, InputPerMTok) + Money.CostNanos(completionTokens, OutputPerMTok);
}
