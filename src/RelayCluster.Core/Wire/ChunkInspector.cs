using System.Text.Json;

namespace RelayCluster.Core.Wire;


/// <summary>
/// What the relay needs to know of one upstream JSON payload (an SSE chunk or a whole response). <see cref="IsChunk"/>
/// vouches for a stream chunk in the same pass: the whole payload was one JSON object, with no <c>error</c>, and a
/// <c>choices</c> array or a <c>usage</c> object. False does not condemn it (the reader stops at what it does not
/// follow); the full rule is the relay's <c>UpstreamAnswers.ProblemWithChunk</c>.
/// </summary>
public readonly record struct ChunkFacts(bool IsError, ReportedUsage? Usage, bool HasChoices, int ContentBytes, bool CarriesOutput, bool IsChunk = false);

/// <summary>
/// Reads the few fields the relay acts on from an upstream payload without building a document, so
/// chunks are forwarded byte for byte: <c>error</c>, <c>usage</c>, and the size of <c>choices[].delta</c>
/// (or <c>message</c>) content, which is how output is counted when an upstream reports no usage.
/// </summary>
public static class ChunkInspector
{
    public static ChunkFacts Inspect(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 128 });
        var isError = false;
        ReportedUsage? usage = null;
        var hasChoices = false;
        var contentBytes = 0;
        var carriesOutput = false;
        var listed = false;
        var whole = false;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return default;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("error"u8))
                {
                    reader.Read();
                    isError = reader.TokenType != JsonTokenType.Null;
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("usage"u8))
                {
                    reader.Read();
                    usage = reader.TokenType == JsonTokenType.StartObject ? ReadUsage(ref reader) : null;
                }
                else if (reader.ValueTextEquals("choices"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartArray)
                    {
                        listed = true;
                        ReadChoices(ref reader, ref hasChoices, ref contentBytes, ref carriesOutput);
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            // The root object was read to its end and nothing follows it (trailing bytes throw, below).
            whole = reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == 0 && !reader.Read();
        }
        catch (JsonException)
        {
            // Not JSON the relay understands: it is forwarded as is and counted as nothing.
            return new ChunkFacts(isError, usage, hasChoices, contentBytes, carriesOutput);
        }

        return new ChunkFacts(isError, usage, hasChoices, contentBytes, carriesOutput, whole && !isError && (listed || usage is not null));
    }

    private static ReportedUsage ReadUsage(ref Utf8JsonReader reader)
    {
        var usage = new UsageReader();
        usage.Read(ref reader, UsageReader.Top);
        return usage.ToUsage();
    }

    /// <summary>
    /// A reported count as the relay books it: a misbehaving upstream's negative, fractional or huge number
    /// becomes 0 or <see cref="MaxReportedTokens"/>, never an exception or a negative cost.
    /// </summary>
    internal static long UsageCount(ref Utf8JsonReader reader)
    {
        if (reader.TryGetInt64(out var count))
        {
            return Math.Clamp(count, 0, MaxReportedTokens);
        }

        return reader.TryGetDouble(out var value) && value > 0 ? (value >= MaxReportedTokens ? MaxReportedTokens : (long)value) : 0;
    }

    /// <summary>The most tokens one response may report; beyond it an upstream is not believed (a trillion).</summary>
    public const long MaxReportedTokens = 1_000_000_000_000;

    private static void ReadChoices(ref Utf8JsonReader reader, ref bool hasChoices, ref int contentBytes, ref bool carriesOutput)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
        {
            hasChoices = true;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isBody = reader.ValueTextEquals("delta"u8) || reader.ValueTextEquals("message"u8);
                reader.Read();
                if (isBody && reader.TokenType == JsonTokenType.StartObject)
                {
                    ReadMessage(ref reader, ref contentBytes, ref carriesOutput);
                }
                else
                {
                    reader.Skip();
                }
            }
        }
    }

    private static void ReadMessage(ref Utf8JsonReader reader, ref int contentBytes, ref bool carriesOutput)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isText = reader.ValueTextEquals("content"u8) || reader.ValueTextEquals("refusal"u8) || reader.ValueTextEquals("reasoning_content"u8);
            var isToolCall = reader.ValueTextEquals("tool_calls"u8) || reader.ValueTextEquals("function_call"u8);
            reader.Read();
            if (isText && reader.TokenType == JsonTokenType.String && reader.ValueSpan.Length > 0)
            {
                contentBytes += reader.ValueSpan.Length;
                carriesOutput = true;
            }
            else if (isToolCall && reader.TokenType is JsonTokenType.StartArray or JsonTokenType.StartObject)
            {
                var start = reader.BytesConsumed;
                reader.Skip();
                contentBytes += (int)(reader.BytesConsumed - start);
                carriesOutput = true;
            }
            else
            {
                reader.Skip();
            }
        }
    }
}
