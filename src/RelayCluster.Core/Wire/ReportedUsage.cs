using System.Text.Json;

namespace RelayCluster.Core.Wire;

/// <summary>
/// Token counts an upstream reported, normalised for billing. <see cref="CompletionTokens"/> is the output billed:
/// <c>max(completion_tokens, total_tokens − prompt_tokens)</c>, because OpenAI counts reasoning inside
/// <c>completion_tokens</c> while some providers report it only in <c>total_tokens</c> (and
/// <c>completion_tokens_details.reasoning_tokens</c>). The details are kept as reported (null when absent):
/// <see cref="CachedTokens"/> (<c>prompt_tokens_details.cached_tokens</c>, a part of the prompt, at most it) is billed
/// at the model's cached-input price where it has one. Every count is clamped to [0, <see cref="ChunkInspector.MaxReportedTokens"/>].
/// Source: https://platform.openai.com/docs/api-reference/chat/object (usage).
/// </summary>
public readonly record struct ReportedUsage(long PromptTokens, long CompletionTokens)
{
    /// <summary>The upstream's own <c>completion_tokens</c>, before normalisation.</summary>
    public long ReportedCompletionTokens { get; init; } = CompletionTokens;

    public long? CachedTokens { get; init; }

    public long? ReasoningTokens { get; init; }

    public long? PromptAudioTokens { get; init; }

    public long? CompletionAudioTokens { get; init; }

    public long? AcceptedPredictionTokens { get; init; }

    public long? RejectedPredictionTokens { get; init; }

    /// <summary>The report had no numeric <c>prompt_tokens</c> (absent, a string, null): the relay bills its own estimate.</summary>
    public bool PromptMissing { get; init; }

    /// <summary>The report had neither a numeric <c>completion_tokens</c> nor <c>total_tokens</c>: the output is estimated.</summary>
    public bool CompletionMissing { get; init; }

    /// <summary>
    /// Two reports of one stream joined field by field, each at its larger value: a provider that reports usage on every
    /// chunk reports it cumulatively (the last is the largest), and one that splits it (the prompt on the first chunk, the
    /// output on the last) loses neither half. A later report never lowers a count already reported.
    /// </summary>
    public static ReportedUsage Merge(ReportedUsage? earlier, ReportedUsage later) => earlier is not { } e ? later : new ReportedUsage(
        Math.Max(e.PromptTokens, later.PromptTokens), Math.Max(e.CompletionTokens, later.CompletionTokens))
    {
        ReportedCompletionTokens = Math.Max(e.ReportedCompletionTokens, later.ReportedCompletionTokens),
        CachedTokens = Max(e.CachedTokens, later.CachedTokens),
        ReasoningTokens = Max(e.ReasoningTokens, later.ReasoningTokens),
        PromptAudioTokens = Max(e.PromptAudioTokens, later.PromptAudioTokens),
        CompletionAudioTokens = Max(e.CompletionAudioTokens, later.CompletionAudioTokens),
        AcceptedPredictionTokens = Max(e.AcceptedPredictionTokens, later.AcceptedPredictionTokens),
        RejectedPredictionTokens = Max(e.RejectedPredictionTokens, later.RejectedPredictionTokens),
        PromptMissing = e.PromptMissing && later.PromptMissing,
        CompletionMissing = e.CompletionMissing && later.CompletionMissing,
    };

    private static long? Max(long? a, long? b) => a is null ? b : b is null ? a : Math.Max(a.Value, b.Value);

    /// <summary>The cached share of the prompt that is billed at the cached price: never more than the prompt.</summary>
    public long BilledCachedTokens => Math.Clamp(CachedTokens ?? 0, 0, PromptTokens);
}

/// <summary>Reads an OpenAI <c>usage</c> object (and its <c>*_details</c>) from a reader at its start.</summary>
internal struct UsageReader
{
    public const int Top = 0;
    private const int PromptDetails = 1;
    private const int CompletionDetails = 2;

    private long _prompt;
    private bool _promptSeen;
    private bool _completionSeen;
    private long _completion;
    private long? _total;
    private long? _cached;
    private long? _reasoning;
    private long? _promptAudio;
    private long? _completionAudio;
    private long? _accepted;
    private long? _rejected;

    public void Read(ref Utf8JsonReader reader, int level)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = Field(ref reader, level);
            reader.Read();
            if (field > 0 && reader.TokenType == JsonTokenType.Number)
            {
                Set(field, ChunkInspector.UsageCount(ref reader));
            }
            else if (level == Top && reader.TokenType == JsonTokenType.StartObject && field is -PromptDetails or -CompletionDetails)
            {
                Read(ref reader, -field);
            }
            else
            {
                reader.Skip();
            }
        }
    }

    public readonly ReportedUsage ToUsage()
    {
        // total − prompt is output the upstream counted outside completion_tokens (reasoning, for some providers).
        var outside = _total is { } total ? Math.Max(0, total - _prompt) : 0;
        return new ReportedUsage(_prompt, Math.Max(_completion, outside))
        {
            ReportedCompletionTokens = _completion,
            CachedTokens = _cached,
            ReasoningTokens = _reasoning,
            PromptAudioTokens = _promptAudio,
            CompletionAudioTokens = _completionAudio,
            AcceptedPredictionTokens = _accepted,
            RejectedPredictionTokens = _rejected,
            PromptMissing = !_promptSeen,
            CompletionMissing = !_completionSeen,
        };
    }

    /// <summary>A number field's code (&gt; 0), a details object's (&lt; 0), or 0 for anything else.</summary>
    private static int Field(ref Utf8JsonReader reader, int level) => level switch
    {
        Top when reader.ValueTextEquals("prompt_tokens"u8) => 1,
        Top when reader.ValueTextEquals("completion_tokens"u8) => 2,
        Top when reader.ValueTextEquals("total_tokens"u8) => 3,
        Top when reader.ValueTextEquals("prompt_tokens_details"u8) => -PromptDetails,
        Top when reader.ValueTextEquals("completion_tokens_details"u8) => -CompletionDetails,
        PromptDetails when reader.ValueTextEquals("cached_tokens"u8) => 4,
        PromptDetails when reader.ValueTextEquals("audio_tokens"u8) => 5,
        CompletionDetails when reader.ValueTextEquals("reasoning_tokens"u8) => 6,
        CompletionDetails when reader.ValueTextEquals("audio_tokens"u8) => 7,
        CompletionDetails when reader.ValueTextEquals("accepted_prediction_tokens"u8) => 8,
        CompletionDetails when reader.ValueTextEquals("rejected_prediction_tokens"u8) => 9,
        _ => 0,
    };

    private void Set(int field, long value)
    {
        switch (field)
        {
            case 1: _prompt = value; _promptSeen = true; break;
            case 2: _completion = value; _completionSeen = true; break;
            case 3: _total = value; _completionSeen = true; break;
            case 4: _cached = value; break;
            case 5: _promptAudio = value; break;
            case 6: _reasoning = value; break;
            case 7: _completionAudio = value; break;
            case 8: _accepted = value; break;
            default: _rejected = value; break;
        }
    }
}
