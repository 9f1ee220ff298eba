using System.Buffers;

namespace RelayCluster.Upstreams.Sse;

/// <summary>
/// Writes one server-sent event whatever its payload holds. In SSE a line break ends a field, so a payload with
/// line breaks must go out as one <c>data:</c> line per line: a reader joins them with LF again (WHATWG HTML
/// §9.2.6, "Interpreting an event stream": every <c>data</c> field appends its value and a LF to the data buffer).
/// </summary>
public static class SseFrame
{
    /// <summary>Payload bytes written with one span: within the 4 KiB blocks of Kestrel's and Pipe's pools.</summary>
    private const int SmallEvent = 4000;

    /// <summary>Writes <paramref name="payload"/> as one event: a <c>data: </c> line for each of its lines, then a blank line.</summary>
    public static void WriteData(IBufferWriter<byte> output, ReadOnlySpan<byte> payload)
    {
        if (payload.Length <= SmallEvent && payload.IndexOfAny((byte)'\n', (byte)'\r') < 0)
        {
            // The usual event (a chunk is one short line): one span asked of the writer, not three. Larger ones are
            // written piecewise, so a pipe is never asked for one span bigger than its pooled blocks.
            var size = payload.Length + 8;
            var span = output.GetSpan(size);
            "data: "u8.CopyTo(span);
            payload.CopyTo(span[6..]);
            "\n\n"u8.CopyTo(span[(6 + payload.Length)..]);
            output.Advance(size);
            return;
        }

        while (true)
        {
            output.Write("data: "u8);
            var end = payload.IndexOfAny((byte)'\n', (byte)'\r');
            if (end < 0)
            {
                output.Write(payload);
                output.Write("\n\n"u8);
                return;
            }

            output.Write(payload[..end]);
            output.Write("\n"u8);
            var skip = payload[end] == (byte)'\r' && end + 1 < payload.Length && payload[end + 1] == (byte)'\n' ? 2 : 1;
            payload = payload[(end + skip)..];
        }
    }

    /// <summary>The event of <paramref name="payload"/> as bytes (see <see cref="WriteData"/>).</summary>
    public static byte[] Data(ReadOnlySpan<byte> payload)
    {
        var output = new ArrayBufferWriter<byte>(payload.Length + 8);
        WriteData(output, payload);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>
    /// A JSON text on one line: its line breaks replaced by spaces. A JSON text holds a raw line break only as
    /// whitespace between tokens (inside a string it must be escaped, RFC 8259 §7), so the value is unchanged and
    /// nothing is re-serialized. An upstream that spread a chunk over several <c>data:</c> lines is relayed the way
    /// OpenAI sends every chunk, one <c>data:</c> line each, which line-based clients that are not full SSE
    /// parsers also read. Returns <paramref name="json"/> itself when it is already one line.
    /// </summary>
    public static ReadOnlyMemory<byte> OneLine(ReadOnlyMemory<byte> json)
    {
        if (json.Span.IndexOfAny((byte)'\n', (byte)'\r') < 0)
        {
            return json;
        }

        var copy = json.ToArray();
        copy.AsSpan().Replace((byte)'\n', (byte)' ');
        copy.AsSpan().Replace((byte)'\r', (byte)' ');
        return copy;
    }
}
