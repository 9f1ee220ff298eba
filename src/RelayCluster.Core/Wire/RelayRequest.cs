using System.Text.Json.Nodes;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Wire.Prompts;

namespace RelayCluster.Core.Wire;

/// <summary>The two endpoints that reach an upstream model.</summary>
public enum RelayOperation
{
    ChatCompletions,
    Embeddings,
}

/// <summary>
/// A validated /v1 request: its parsed body (rewritten before it goes upstream) and what admission needs
/// to know about it. Fields the relay does not read are passed through untouched.
/// </summary>
public sealed class RelayRequest
{
    public required RelayOperation Operation { get; init; }

    public required JsonObject Body { get; init; }

    /// <summary>
    /// The caller's body as received (UTF-8 JSON, <see cref="Body"/> is its parse), kept by whoever parsed it so that an
    /// OpenAI-compatible upstream is sent those bytes rewritten in place (<see cref="UpstreamBody"/>) rather than the
    /// tree serialized again; empty when unknown. The owner must not reuse the memory while the call runs.
    /// </summary>
    public ReadOnlyMemory<byte> CallerBody { get; set; }

    public required string Model { get; init; }

    public bool Stream { get; init; }

    /// <summary>Whether the caller asked for the usage chunk; the relay always asks the upstream for it.</summary>
    public bool IncludeUsage { get; init; }

    /// <summary>Caller's output cap (<c>max_completion_tokens</c>, else <c>max_tokens</c>); null when unset.</summary>
    public long? MaxOutputTokens { get; init; }

    /// <summary>
    /// Every output cap the caller sent, by parameter name (<c>max_completion_tokens</c>, <c>max_tokens</c>): each goes
    /// upstream as sent, so each is held to the model's output limit, and the error names the one that is too large.
    /// </summary>
    public IReadOnlyList<(string Param, long Value)> OutputCaps { get; init; } = [];

    /// <summary>Choices requested; the output cap applies to each.</summary>
    public long Choices { get; init; } = 1;

    /// <summary>
    /// The most output tokens this call may produce over all its choices: the caller's cap (the larger of the two when
    /// both are sent: both go upstream, and a server that knows only <c>max_tokens</c> honours that one), else the target
    /// model's <paramref name="defaultMaxOutputTokens"/>, times <see cref="Choices"/> (saturating); 0 for embeddings. The
    /// reservation holds this much output, so no estimate of the output is ever billed above it.
    /// </summary>
    public long OutputBound(int defaultMaxOutputTokens) =>
        Operation == RelayOperation.Embeddings ? 0
        : Saturating.Multiply(OutputCaps.Count > 0 ? OutputCaps.Max(c => c.Value) : MaxOutputTokens ?? defaultMaxOutputTokens, Choices);

    public required PromptSize Prompt { get; init; }

    public string Endpoint => Operation == RelayOperation.ChatCompletions ? "/v1/chat/completions" : "/v1/embeddings";

    /// <summary>Rewrites the body for the upstream: its model name, and usage always requested on streams.</summary>
    public JsonObject PrepareForUpstream(string upstreamModel)
    {
        Body["model"] = upstreamModel;
        if (Stream)
        {
            var options = Body["stream_options"] as JsonObject ?? new JsonObject();
            options["include_usage"] = true;
            Body["stream_options"] = options;
        }

        return Body;
    }
}

/// <summary>
/// A prompt's size, for the reservation (an upper bound of what the provider may bill) and for the bill when no
/// usage was reported (a guess). With a model's <see cref="PromptProfile"/> its text is counted with the model's
/// tokenizer (roles and names included), plus OpenAI's framing (3 tokens a message, 1 a name, 3 to prime the reply) and
/// a margin of 2% and 8 tokens; without a tokenizer (another provider's model) it is bounded by the UTF-8 size: a token a byte, the
/// only bound that holds for any byte-level BPE (digits and punctuation such as <c>1!2@3#</c> are a token a byte in o200k and
/// Llama 3; real text averages about four bytes a token). Images, audio
/// and files add the model's worst case for each (<see cref="PromptContent.MediaTokens"/>).
/// Source: https://cookbook.openai.com/examples/how_to_count_tokens_with_tiktoken.
/// </summary>
public readonly record struct PromptSize(long Utf8Bytes, long Chars, int Items, long ExplicitTokens)
{
    /// <summary>What the prompt holds (null for a size made by hand): counted once a model is chosen.</summary>
    public PromptContent? Content { get; init; }

    /// <summary>The reservation's estimate of the text from its size alone (saturating: it can only be too high, never wrap).</summary>
    public long WorstCaseTokens => Sum(Utf8Bytes, Saturating.Multiply(4, Items), 3, ExplicitTokens);

    /// <summary>The billing guess of the text when no usage was reported (saturating).</summary>
    public long BestGuessTokens => Sum((Utf8Bytes / 4) + ((Utf8Bytes & 3) == 0 ? 0 : 1), Saturating.Multiply(3, Items), 3, ExplicitTokens);

    /// <summary>The reservation's prompt tokens on a model of <paramref name="profile"/>: at least what its provider may bill.</summary>
    public long WorstCaseTokensOn(PromptProfile profile)
    {
        var text = Content is { } content && profile.Tokenizer != PromptTokenizer.Bytes
            ? Sum(TokenizedWithMargin(content.TextTokens(profile.Tokenizer)), Saturating.Multiply(3, Items), 3, ExplicitTokens)
            : WorstCaseTokens;
        return Saturating.Add(text, Content?.MediaTokens(profile) ?? 0);
    }

    /// <summary>The bill's prompt tokens without reported usage: the text guessed, the media at their bound.</summary>
    public long BestGuessTokensOn(PromptProfile profile) => Saturating.Add(BestGuessTokens, Content?.MediaTokens(profile) ?? 0);

    /// <summary>A tokenizer's count plus 2% and 8 tokens: the provider's own rendering of tools and names may differ a little.</summary>
    private static long TokenizedWithMargin(long tokens) => Saturating.Add(tokens, (tokens / 50) + 8);

    private static long Sum(params ReadOnlySpan<long> terms)
    {
        var sum = 0L;
        foreach (var term in terms)
        {
            sum = Saturating.Add(sum, term);
        }

        return sum;
    }
}

/// <summary>Accumulates the text of a prompt into a <see cref="PromptSize"/>, and its parts into a <see cref="PromptContent"/>.</summary>
internal struct PromptMeter()
{
    public long Utf8Bytes;
    public long Chars;
    public long ExplicitTokens;
    public readonly PromptContent Content = new();

    public void AddText(string text)
    {
        Utf8Bytes += System.Text.Encoding.UTF8.GetByteCount(text);
        Chars += text.Length;
        Content.AddText(text);
    }

    public readonly PromptSize ToSize(int items) => new(Utf8Bytes, Chars, items, ExplicitTokens) { Content = Content };
}
