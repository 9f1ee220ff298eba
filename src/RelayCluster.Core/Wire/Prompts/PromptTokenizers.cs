using Microsoft.ML.Tokenizers;

namespace RelayCluster.Core.Wire.Prompts;

/// <summary>How a model's prompt text is counted for its reservation.</summary>
public enum PromptTokenizer
{
    /// <summary>No known tokenizer (another provider's model): a high estimate from the UTF-8 size (<see cref="PromptSize"/>).</summary>
    Bytes,

    /// <summary>OpenAI's <c>o200k_base</c> (gpt-4o, gpt-4.1, gpt-4.5, gpt-5, o1/o3/o4 and later).</summary>
    O200kBase,

    /// <summary>OpenAI's <c>cl100k_base</c> (gpt-4, gpt-3.5-turbo, text-embedding-3 and ada-002).</summary>
    Cl100kBase,
}

/// <summary>
/// The tiktoken encodings, each loaded once per process on first use (from the vocabularies inside the
/// <c>Microsoft.ML.Tokenizers.Data.*</c> packages, no download) and shared: a <see cref="TiktokenTokenizer"/> is
/// thread-safe for counting.
/// </summary>
public static class PromptTokenizers
{
    private static readonly Lazy<Tokenizer> O200k = new(() => TiktokenTokenizer.CreateForEncoding("o200k_base"));
    private static readonly Lazy<Tokenizer> Cl100k = new(() => TiktokenTokenizer.CreateForEncoding("cl100k_base"));

    /// <summary>The tokenizer of <paramref name="kind"/>; null for <see cref="PromptTokenizer.Bytes"/>.</summary>
    public static Tokenizer? Get(PromptTokenizer kind) => kind switch
    {
        PromptTokenizer.O200kBase => O200k.Value,
        PromptTokenizer.Cl100kBase => Cl100k.Value,
        _ => null,
    };

    /// <summary>
    /// A run of this many characters of one kind (all whitespace, or none) is not merged by BPE but counted as its
    /// UTF-8 bytes, each byte at most one token: BPE's cost grows with the square of a pre-token's length (32,000 letters
    /// without a space take ~150 ms; 4 MB of them would take tens of minutes), and no real word is this long.
    /// </summary>
    public const int LongRunChars = 1000;

    /// <summary>
    /// <paramref name="text"/>'s tokens in <paramref name="tokenizer"/>, at least: exact when no run of one kind is longer
    /// than <see cref="LongRunChars"/>; each longer run is counted as its UTF-8 bytes, and the text around it on its
    /// own (a run of one kind is a pre-token boundary already, so the pieces count as in the whole).
    /// </summary>
    public static long CountAtLeast(Tokenizer tokenizer, string text)
    {
        var sum = 0L;
        var piece = 0;
        for (var at = 0; at < text.Length;)
        {
            var white = char.IsWhiteSpace(text[at]);
            var end = at + 1;
            while (end < text.Length && char.IsWhiteSpace(text[end]) == white)
            {
                end++;
            }

            if (end - at > LongRunChars)
            {
                sum += tokenizer.CountTokens(text.AsSpan(piece, at - piece));
                sum += System.Text.Encoding.UTF8.GetByteCount(text.AsSpan(at, end - at));
                piece = end;
            }

            at = end;
        }

        return sum + (piece == 0 ? tokenizer.CountTokens(text) : tokenizer.CountTokens(text.AsSpan(piece)));
    }

    /// <summary>
    /// The encoding OpenAI uses for <paramref name="model"/> (as tiktoken maps model names), or
    /// <see cref="PromptTokenizer.Bytes"/> for a name it does not know.
    /// Source: https://github.com/openai/tiktoken/blob/main/tiktoken/model.py (MODEL_PREFIX_TO_ENCODING).
    /// </summary>
    public static PromptTokenizer ForModel(string model)
    {
        var name = model.ToLowerInvariant();
        if (name.StartsWith("gpt-4o", StringComparison.Ordinal) || name.StartsWith("gpt-4.1", StringComparison.Ordinal)
            || name.StartsWith("gpt-4.5", StringComparison.Ordinal) || name.StartsWith("gpt-5", StringComparison.Ordinal)
            || name.StartsWith("chatgpt-", StringComparison.Ordinal) || name.StartsWith("gpt-oss", StringComparison.Ordinal)
            || name.StartsWith("o1", StringComparison.Ordinal) || name.StartsWith("o3", StringComparison.Ordinal)
            || name.StartsWith("o4", StringComparison.Ordinal))
        {
            return PromptTokenizer.O200kBase;
        }

        return name.StartsWith("gpt-4", StringComparison.Ordinal) || name.StartsWith("gpt-3.5", StringComparison.Ordinal)
            || name.StartsWith("text-embedding-", StringComparison.Ordinal)
            ? PromptTokenizer.Cl100kBase
            : PromptTokenizer.Bytes;
    }

    /// <summary>Parses a configured name (<c>o200k_base</c>, <c>cl100k_base</c>, <c>bytes</c>); null if unknown.</summary>
    public static PromptTokenizer? Parse(string name) => name.ToLowerInvariant() switch
    {
        "o200k_base" or "o200k" => PromptTokenizer.O200kBase,
        "cl100k_base" or "cl100k" => PromptTokenizer.Cl100kBase,
        "bytes" => PromptTokenizer.Bytes,
        _ => null,
    };
}
