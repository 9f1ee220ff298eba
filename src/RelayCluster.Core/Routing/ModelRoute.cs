using RelayCluster.Core.Configuration;
using RelayCluster.Core.Metering;

namespace RelayCluster.Core.Routing;

/// <summary>Where a model name leads: the configured model, its provider, upstream name and prices.</summary>
public sealed record ModelRoute(
    string Model, string ProviderId, string UpstreamModel, decimal InputPerMTok, decimal OutputPerMTok, int DefaultMaxOutputTokens, long Created, string OwnedBy)
{
    /// <summary>The model's output limit (see <see cref="ModelOptions.MaxOutputTokens"/>); a larger request cap is refused.</summary>
    public int MaxOutputTokens { get; init; } = ModelOptions.StandardMaxOutputTokens;

    /// <summary><see cref="ModelEndpoints.Chat"/> or <see cref="ModelEndpoints.Embeddings"/>: the one endpoint this model serves.</summary>
    public string Endpoint { get; init; } = ModelEndpoints.Chat;

    public static ModelRoute From(string model, ModelOptions options) => new(
        model, options.Provider, options.UpstreamModel ?? model, options.InputPerMTok, options.OutputPerMTok,
        options.DefaultMaxOutputTokens, options.Created, options.OwnedBy)
    {
        MaxOutputTokens = options.OutputLimit,
        Endpoint = ModelEndpoints.Of(model, options),
    };

    /// <summary>Cost in nano-dollars, saturating: negative counts cost nothing, and no count can overflow.</summary>
    public long CostNanos(long promptTokens, long completionTokens) =>
        Saturating.Add(Money.CostNanos(promptTokens, InputPerMTok), Money.CostNanos(completionTokens, OutputPerMTok));
}
