using RelayCluster.Core.Configuration;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Wire.Prompts;

namespace RelayCluster.Core.Routing;

/// <summary>Where a model name leads: the configured model, its provider, upstream name and prices.</summary>
public sealed record ModelRoute(
    string Model, string ProviderId, string UpstreamModel, decimal InputPerMTok, decimal OutputPerMTok, int DefaultMaxOutputTokens, long Created, string OwnedBy)
{
    /// <summary>The model's output limit (see <see cref="ModelOptions.MaxOutputTokens"/>); a larger request cap is refused.</summary>
    public int MaxOutputTokens { get; init; } = ModelOptions.StandardMaxOutputTokens;

    /// <summary><see cref="ModelEndpoints.Chat"/> or <see cref="ModelEndpoints.Embeddings"/>: the one endpoint this model serves.</summary>
    public string Endpoint { get; init; } = ModelEndpoints.Chat;

    /// <summary>Price of cached prompt tokens per million; null: they cost <see cref="InputPerMTok"/>.</summary>
    public decimal? CachedInputPerMTok { get; init; }

    /// <summary>How this model's prompts are bounded for reservations (tokenizer, image, audio and file worst cases).</summary>
    public PromptProfile Prompt { get; init; } = PromptProfile.For(UpstreamModel);

    public static ModelRoute From(string model, ModelOptions options) => new(
        model, options.Provider, options.UpstreamModel ?? model, options.InputPerMTok, options.OutputPerMTok,
        options.DefaultMaxOutputTokens, options.Created, options.OwnedBy)
    {
        MaxOutputTokens = options.OutputLimit,
        Endpoint = ModelEndpoints.Of(model, options),
        CachedInputPerMTok = options.CachedInputPerMTok,
        Prompt = PromptProfile.For(options.UpstreamModel ?? model, options.Tokenizer, options.ImageTokenMultiplier, options.ImageTokensMax,
            options.FileTokensMax, options.AudioTokensPerSecond),
    };

    /// <summary>Cost in nano-dollars, saturating: negative counts cost nothing, and no count can overflow.</summary>
    public long CostNanos(long promptTokens, long completionTokens) =>
        Saturating.Add(Money.CostNanos(promptTokens, InputPerMTok), Money.CostNanos(completionTokens, OutputPerMTok));

    /// <summary>
    /// Cost of reported usage: its <paramref name="cachedTokens"/> (a part of the prompt, at most all of it) at the
    /// cached-input price where the model has one, the rest of the prompt at the input price, the output at its own.
    /// </summary>
    public long CostNanos(long promptTokens, long completionTokens, long cachedTokens)
    {
        if (CachedInputPerMTok is not { } cachedPrice)
        {
            return CostNanos(promptTokens, completionTokens);
        }

        var cached = Math.Clamp(cachedTokens, 0, Math.Max(0, promptTokens));
        return Saturating.Add(CostNanos(promptTokens - cached, completionTokens), Money.CostNanos(cached, cachedPrice));
    }
}
