using RelayCluster.Core.Wire.Prompts;

namespace RelayCluster.Core.Configuration;

public sealed partial class RelayOptionsValidator
{
    /// <summary>The cached-input price and the prompt-bound settings of one model.</summary>
    private static void ValidatePromptCosts(string id, ModelOptions model, List<string> errors)
    {
        if (model.CachedInputPerMTok is < 0 or > ModelOptions.CeilingPricePerMTok)
        {
            errors.Add($"Relay:Models:{id}:CachedInputPerMTok must be between 0 and {ModelOptions.CeilingPricePerMTok}.");
        }
        else if (model.CachedInputPerMTok > model.InputPerMTok)
        {
            // The reservation prices the whole prompt at the input price: a dearer cached price could bill above it.
            errors.Add($"Relay:Models:{id}:CachedInputPerMTok must be at most its InputPerMTok ({model.InputPerMTok}): a cache read is a discount.");
        }

        if (model.Tokenizer is { } tokenizer && PromptTokenizers.Parse(tokenizer) is null)
        {
            errors.Add($"Relay:Models:{id}:Tokenizer '{tokenizer}' is not one of o200k_base, cl100k_base, bytes.");
        }

        if (model.ImageTokenMultiplier is { } multiplier && !(multiplier > 0 && multiplier <= 1000))
        {
            errors.Add($"Relay:Models:{id}:ImageTokenMultiplier must be above 0 and at most 1000.");
        }

        if (model.ImageTokensMax is < 1 || model.FileTokensMax is < 1 or > 1_000_000_000 || model.AudioTokensPerSecond is < 1 or > 100_000)
        {
            errors.Add($"Relay:Models:{id}: ImageTokensMax, FileTokensMax (at most 10^9) and AudioTokensPerSecond (at most 100,000) must be at least 1.");
        }
    }
}
