namespace RelayCluster.Core.Wire.Prompts;

/// <summary>One image of a prompt: its detail and, when its header tells, its size (0 × 0 when unknown).</summary>
public readonly record struct PromptImage(bool LowDetail, int Width, int Height);

/// <summary>
/// What a prompt holds, as the parser found it, for counting once the target model is known: the text pieces (by
/// reference: nothing is copied), the images, a bound on the audio's duration and the files. The text is counted
/// at most once per tokenizer (a fallback chain may span two encodings).
/// </summary>
public sealed class PromptContent
{
    private readonly List<string> _texts = [];
    private readonly List<PromptImage> _images = [];
    private readonly List<string> _prediction = [];
    private long _o200k = -1;
    private long _cl100k = -1;

    public IReadOnlyList<string> Texts => _texts;

    public IReadOnlyList<PromptImage> Images => _images;

    /// <summary>The audio parts' duration at most, in seconds (rounded up).</summary>
    public long AudioSeconds { get; private set; }

    public int AudioParts { get; private set; }

    public int Files { get; private set; }

    /// <summary>Whether the prompt has only text (then its bound needs no media worst case).</summary>
    public bool IsTextOnly => _images.Count == 0 && AudioParts == 0 && Files == 0;

    internal void AddText(string text) => _texts.Add(text);

    internal void AddImage(PromptImage image) => _images.Add(image);

    internal void AddAudio(long seconds)
    {
        AudioParts++;
        AudioSeconds = Metering.Saturating.Add(AudioSeconds, seconds);
    }

    internal void AddFile() => Files++;

    internal void AddPrediction(string text) => _prediction.Add(text);

    /// <summary>
    /// Output tokens a predicted output (<c>prediction</c>) may add beyond the output cap: OpenAI bills its rejected
    /// tokens as completion tokens. At most the prediction's own length, plus a 2% margin; one token a byte without a tokenizer.
    /// </summary>
    public long PredictionTokens(PromptTokenizer tokenizer)
    {
        var sum = 0L;
        var encoding = PromptTokenizers.Get(tokenizer);
        foreach (var text in _prediction)
        {
            sum = Metering.Saturating.Add(sum, (encoding is null ? System.Text.Encoding.UTF8.GetByteCount(text) : PromptTokenizers.CountAtLeast(encoding, text)));
        }

        return sum == 0 ? 0 : Metering.Saturating.Add(sum, (sum / 50) + 8);
    }

    /// <summary>The text's exact token count in <paramref name="tokenizer"/>'s encoding; counted on first use, then kept.</summary>
    public long TextTokens(PromptTokenizer tokenizer)
    {
        ref var cached = ref tokenizer == PromptTokenizer.Cl100kBase ? ref _cl100k : ref _o200k;
        if (cached < 0)
        {
            var encoding = PromptTokenizers.Get(tokenizer) ?? throw new ArgumentOutOfRangeException(nameof(tokenizer));
            var sum = 0L;
            foreach (var text in _texts)
            {
                sum += PromptTokenizers.CountAtLeast(encoding, text);
            }

            cached = sum;
        }

        return cached;
    }

    /// <summary>The tokens the non-text parts may cost on a model of <paramref name="profile"/>, at most (saturating).</summary>
    public long MediaTokens(PromptProfile profile)
    {
        var sum = 0L;
        foreach (var image in _images)
        {
            var tokens = image.LowDetail && profile.ImageTokensLow is { } low ? low : profile.HighDetailImage(image.Width, image.Height);
            sum = Metering.Saturating.Add(sum, tokens);
        }

        // Audio: its duration's tokens, and 16 a part for its framing.
        sum = Metering.Saturating.Add(sum, Metering.Saturating.Multiply(AudioSeconds, profile.AudioTokensPerSecond));
        sum = Metering.Saturating.Add(sum, Metering.Saturating.Multiply(AudioParts, 16));
        return Metering.Saturating.Add(sum, Metering.Saturating.Multiply(Files, profile.FileTokensMax));
    }
}
