namespace RelayCluster.Core.Wire.Prompts;

/// <summary>
/// How one model counts a prompt, for a reservation that bounds what its provider may bill: the text's tokenizer
/// and the worst cases of the parts that are not text. Built from a model's name and its <c>ModelOptions</c>.
/// </summary>
/// <param name="Tokenizer">The encoding the text is counted with.</param>
/// <param name="ImageMultiplier">
/// The model's image tokens over gpt-4o's (gpt-4o-mini bills 2,833 base + 5,667 a tile where gpt-4o bills 85 + 170:
/// 33.34×; the patch models gpt-4.1-mini 1.62, gpt-4.1-nano 2.46, o4-mini 1.72 tokens a patch).
/// </param>
/// <param name="ImageTokensLow">A <c>detail: low</c> image (fixed on the tile models); null where detail changes nothing.</param>
/// <param name="ImageTokensMax">The most one image may cost at any size and detail.</param>
/// <param name="FileTokensMax">The most one <c>file</c> part (a PDF: each page's text and image) may cost.</param>
/// <param name="AudioTokensPerSecond">Tokens a second of <c>input_audio</c> costs at most.</param>
public sealed record PromptProfile(
    PromptTokenizer Tokenizer, double ImageMultiplier, int? ImageTokensLow, int ImageTokensMax, long FileTokensMax, int AudioTokensPerSecond)
{
    /// <summary>Whether an image's known size bounds its cost by OpenAI's formula; else every image costs <see cref="ImageTokensMax"/>.</summary>
    public bool ImagesBySize { get; init; }

    /// <summary>How the model's images are billed (both: bounded by the larger).</summary>
    public ImageScheme Scheme { get; init; } = ImageScheme.Tiles | ImageScheme.Patches;

    /// <summary>gpt-4o's tile scheme: 85 tokens, and 170 a 512-px tile (at most 8 after the 2048/768 scaling) at high detail.</summary>
    public const int TileBaseTokens = 85;
    public const int TileTokens = 170;
    public const int MaxTiles = 8;

    /// <summary>The patch scheme (gpt-4.1 and later): a token a 32-px patch, at most 1,536 patches, times the multiplier.</summary>
    public const int MaxPatches = 1536;

    /// <summary>Another provider's image at most (Anthropic: about 1,600 tokens, an image of ~1.15 megapixels).</summary>
    public const int OtherProviderImageTokens = 1600;

    /// <summary>Most pages of a PDF input (OpenAI: 100 pages, 32 MB a request) and the text a page may add at most.</summary>
    public const int MaxFilePages = 100;
    public const int FilePageTextTokens = 4000;

    /// <summary>A generous bound on audio tokens a second (OpenAI's audio models bill about 10 a second; Gemini 32).</summary>
    public const int DefaultAudioTokensPerSecond = 32;

    /// <summary>
    /// The defaults for a model whose upstream name is <paramref name="model"/>, each replaced by the configured value
    /// where one is set. Sources: https://platform.openai.com/docs/guides/images-vision (calculating costs),
    /// https://docs.anthropic.com/en/docs/build-with-claude/vision (image costs), https://platform.openai.com/docs/guides/pdf-files.
    /// </summary>
    public static PromptProfile For(string model, string? tokenizer = null, double? imageMultiplier = null, int? imageTokensMax = null,
        long? fileTokensMax = null, int? audioTokensPerSecond = null)
    {
        var name = model.ToLowerInvariant();
        var kind = tokenizer is null ? PromptTokenizers.ForModel(model) : PromptTokenizers.Parse(tokenizer) ?? PromptTokenizer.Bytes;
        var multiplier = imageMultiplier ?? DefaultMultiplier(name);
        // An OpenAI model's image is at most 8 tiles (85 + 8 × 170 = 1,445) or 1,536 patches, times its multiplier. A model
        // not known to be one or the other is bounded by both. A configured multiplier marks a model OpenAI's formulas
        // apply to whatever its name (an Azure deployment, say).
        var openAi = PromptTokenizers.ForModel(model) != PromptTokenizer.Bytes || imageMultiplier is not null;
        var scheme = IsTileModel(name) ? ImageScheme.Tiles : IsPatchModel(name) ? ImageScheme.Patches : ImageScheme.Tiles | ImageScheme.Patches;
        var worst = scheme == ImageScheme.Tiles ? TileBaseTokens + (TileTokens * MaxTiles) : MaxPatches;
        var max = imageTokensMax ?? (openAi ? Ceiling(multiplier * worst) : OtherProviderImageTokens);
        int? low = openAi && (scheme & ImageScheme.Tiles) != 0 && !name.StartsWith("gpt-5", StringComparison.Ordinal)
            ? Math.Min(max, Ceiling(multiplier * TileBaseTokens))
            : null;
        var files = fileTokensMax ?? (long)MaxFilePages * (max + FilePageTextTokens);
        return new PromptProfile(kind, multiplier, low, max, files, audioTokensPerSecond ?? DefaultAudioTokensPerSecond)
        {
            ImagesBySize = openAi,
            Scheme = scheme,
        };
    }

    /// <summary>
    /// Tokens an image of <paramref name="width"/> × <paramref name="height"/> costs at high detail on an OpenAI
    /// model: the tile count after fitting 2048 × 2048 and shortening the short side to 768, or the patch count
    /// (capped at 1,536), whichever is more, times the multiplier; never above <see cref="ImageTokensMax"/>.
    /// </summary>
    public int HighDetailImage(int width, int height)
    {
        if (width <= 0 || height <= 0 || !ImagesBySize)
        {
            return ImageTokensMax;
        }

        double w = width, h = height;
        var fit = Math.Min(1, 2048 / Math.Max(w, h));
        (w, h) = (w * fit, h * fit);
        var shorten = Math.Min(1, 768 / Math.Min(w, h));
        var tiles = (Scheme & ImageScheme.Tiles) == 0 ? 0 : TileBaseTokens + (TileTokens * Math.Ceiling(w * shorten / 512) * Math.Ceiling(h * shorten / 512));
        var patches = (Scheme & ImageScheme.Patches) == 0 ? 0 : Math.Min(MaxPatches, Math.Ceiling(width / 32.0) * Math.Ceiling(height / 32.0));
        var tokens = ImageMultiplier * Math.Max(tiles, patches);
        return Math.Min(ImageTokensMax, Ceiling(tokens));
    }

    private static double DefaultMultiplier(string name) =>
        name.StartsWith("gpt-4o-mini", StringComparison.Ordinal) ? 33.34
        : name.StartsWith("gpt-4.1-nano", StringComparison.Ordinal) ? 2.46
        : name.StartsWith("o4-mini", StringComparison.Ordinal) ? 1.72
        : name.StartsWith("gpt-4.1-mini", StringComparison.Ordinal) ? 1.62
        : 1;

    /// <summary>The models billed by 512-px tiles, where <c>detail: low</c> is a fixed cost.</summary>
    private static bool IsTileModel(string name) =>
        name.StartsWith("gpt-4o", StringComparison.Ordinal) || name.StartsWith("gpt-4-turbo", StringComparison.Ordinal)
        || name.StartsWith("gpt-4.5", StringComparison.Ordinal) || name.StartsWith("o1", StringComparison.Ordinal)
        || (name.StartsWith("o3", StringComparison.Ordinal) && !name.StartsWith("o3-mini", StringComparison.Ordinal));

    /// <summary>The models billed by 32-px patches times a multiplier, whatever the detail.</summary>
    private static bool IsPatchModel(string name) =>
        name.StartsWith("gpt-4.1-mini", StringComparison.Ordinal) || name.StartsWith("gpt-4.1-nano", StringComparison.Ordinal)
        || name.StartsWith("o4-mini", StringComparison.Ordinal);

    private static int Ceiling(double value) => value >= int.MaxValue ? int.MaxValue : (int)Math.Ceiling(value);
}

/// <summary>OpenAI's two ways of billing an image: 512-px tiles (gpt-4o and kin) or 32-px patches (gpt-4.1-mini and kin).</summary>
[Flags]
public enum ImageScheme
{
    Tiles = 1,
    Patches = 2,
}
