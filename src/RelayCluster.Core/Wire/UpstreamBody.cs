using System.Buffers;
using System.Text;
using System.Text.Json;

namespace RelayCluster.Core.Wire;

/// <summary>
/// The body an OpenAI-compatible upstream gets, made from the caller's own bytes: the top-level <c>model</c> value
/// replaced, and on a stream <c>"stream_options":{"include_usage":true}</c> added, everything else byte for byte as
/// sent. The same rewrite as <see cref="RelayRequest.PrepareForUpstream"/> followed by serializing the tree, without
/// walking and re-encoding the whole tree on every call (it was the largest single serialization on the hot path).
/// </summary>
public static class UpstreamBody
{
    // Characters a JSON string holds as they are under the default encoder (what serializing the tree would write).
    private static readonly SearchValues<char> PlainModelChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@ ");

    private static ReadOnlySpan<byte> UsageOption => ",\"stream_options\":{\"include_usage\":true}"u8;

    /// <summary>
    /// The caller's <paramref name="body"/> (a whole JSON object that <see cref="StrictJson"/> accepted) with its model
    /// set to <paramref name="upstreamModel"/> and, when <paramref name="stream"/>, usage asked for. Null when the
    /// bytes cannot be rewritten in place (no string <c>model</c> at the top level, a stream whose body already has
    /// <c>stream_options</c>, anything unexpected): the caller then serializes the rewritten tree instead. Never throws.
    /// </summary>
    public static byte[]? Rewrite(ReadOnlySpan<byte> body, string upstreamModel, bool stream)
    {
        if (!TryFindModel(body, stream, out var valueStart, out var valueEnd, out var closingBrace))
        {
            return null;
        }

        var plain = upstreamModel.AsSpan().IndexOfAnyExcept(PlainModelChars) < 0;
        var encoded = plain ? null : JsonEncodedText.Encode(upstreamModel).EncodedUtf8Bytes.ToArray();
        var modelBytes = plain ? upstreamModel.Length : encoded!.Length;
        var tail = stream ? UsageOption : default;
        var result = new byte[valueStart + 2 + modelBytes + (closingBrace - valueEnd) + tail.Length + (body.Length - closingBrace)];

        var at = 0;
        body[..valueStart].CopyTo(result);
        at += valueStart;
        result[at++] = (byte)'"';
        at += plain ? Encoding.ASCII.GetBytes(upstreamModel, result.AsSpan(at)) : Copy(encoded!, result.AsSpan(at));
        result[at++] = (byte)'"';
        body[valueEnd..closingBrace].CopyTo(result.AsSpan(at));
        at += closingBrace - valueEnd;
        tail.CopyTo(result.AsSpan(at));
        at += tail.Length;
        body[closingBrace..].CopyTo(result.AsSpan(at));
        return result;
    }

    private static int Copy(byte[] source, Span<byte> destination)
    {
        source.CopyTo(destination);
        return source.Length;
    }

    /// <summary>
    /// Where the top-level model's string token lies (<paramref name="valueStart"/> at its opening quote,
    /// <paramref name="valueEnd"/> just past its closing one) and where the root's closing brace is. False for a body
    /// this rewrite does not handle.
    /// </summary>
    private static bool TryFindModel(ReadOnlySpan<byte> body, bool stream, out int valueStart, out int valueEnd, out int closingBrace)
    {
        valueStart = valueEnd = closingBrace = -1;
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = StrictJson.MaxDepth });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isModel = reader.ValueTextEquals("model"u8);
                var isOptions = stream && reader.ValueTextEquals("stream_options"u8);
                if (!reader.Read() || isOptions)
                {
                    return false;
                }

                if (isModel)
                {
                    if (reader.TokenType != JsonTokenType.String || valueStart >= 0)
                    {
                        return false;
                    }

                    valueStart = (int)reader.TokenStartIndex;
                    valueEnd = (int)reader.BytesConsumed;
                }
                else
                {
                    reader.Skip();
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.CurrentDepth != 0 || valueStart < 0
                || body[valueStart] != (byte)'"' || body[valueEnd - 1] != (byte)'"')
            {
                return false;
            }

            closingBrace = (int)reader.TokenStartIndex;
            return body[closingBrace] == (byte)'}';
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
