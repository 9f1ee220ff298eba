using System.Text.Json.Nodes;
using RelayCluster.Core.Metering;

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
    /// The most output tokens this call may produce over all its choices: the caller's cap, else the target model's
    /// <paramref name="defaultMaxOutputTokens"/>, times <see cref="Choices"/> (saturating); 0 for embeddings. The
    /// reservation holds this much output, so no estimate of the output is ever billed above it.
    /// </summary>
    public long OutputBound(int defaultMaxOutputTokens) =>
        Operation == RelayOperation.Embeddings ? 0 : Saturating.Multiply(MaxOutputTokens ?? defaultMaxOutputTokens, Choices);

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
/// What the relay knows of a prompt's size without a tokenizer (none restores here). Reservations use
/// a deliberately high estimate so that the reported usage stays within them: two ASCII bytes a token
/// (real tokenizers average about four), and a token for every extra byte of multi-byte text, where
/// tokenizers are densest. Billing without reported usage uses the usual four-bytes-a-token guess and
/// is flagged as estimated.
/// </summary>
public readonly record struct PromptSize(long Utf8Bytes, long Chars, int Items, long ExplicitTokens)
{
    /// <summary>The reservation's prompt estimate (saturating: it can only be too high, never wrap).</summary>
    public long WorstCaseTokens => Sum((Utf8Bytes / 2) + (Utf8Bytes & 1), Utf8Bytes - Chars, Saturating.Multiply(4, Items), 3, ExplicitTokens);

    /// <summary>The billing guess when no usage was reported (saturating).</summary>
    public long BestGuessTokens => Sum((Utf8Bytes / 4) + ((Utf8Bytes & 3) == 0 ? 0 : 1), Saturating.Multiply(3, Items), 3, ExplicitTokens);

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

/// <summary>Accumulates the text of a prompt into a <see cref="PromptSize"/>.</summary>
internal struct PromptMeter
{
    public long Utf8Bytes;
    public long Chars;
    public long ExplicitTokens;

    public void AddText(string text)
    {
        Utf8Bytes += System.Text.Encoding.UTF8.GetByteCount(text);
        Chars += text.Length;
    }

    public readonly PromptSize ToSize(int items) => new(Utf8Bytes, Chars, items, ExplicitTokens);
}
