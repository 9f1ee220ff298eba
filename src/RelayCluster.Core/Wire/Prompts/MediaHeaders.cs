using System.Buffers.Binary;

namespace RelayCluster.Core.Wire.Prompts;

/// <summary>
/// Reads what a prompt's inline media tell of their size from their first bytes only (the header), without
/// decoding the rest: an image's width and height (PNG, JPEG, GIF, WebP: the formats OpenAI accepts) and a WAV's
/// byte rate. Anything unreadable is "unknown", which the reservation prices at the model's worst case.
/// </summary>
public static class MediaHeaders
{
    /// <summary>At most this much of a data URL is decoded: a JPEG's size marker may follow a large EXIF block.</summary>
    private const int MaxHeaderChars = 256 * 1024;

    /// <summary>The base64 payload of a <c>data:</c> URL, or empty when <paramref name="url"/> is not one.</summary>
    public static ReadOnlySpan<char> DataUrlPayload(string url)
    {
        if (!url.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
        {
            return [];
        }

        var comma = url.IndexOf(',', StringComparison.Ordinal);
        return comma > 0 && url.AsSpan(0, comma).EndsWith(";base64", StringComparison.OrdinalIgnoreCase) ? url.AsSpan(comma + 1) : [];
    }

    /// <summary>Bytes a base64 text of <paramref name="chars"/> characters decodes to, at most.</summary>
    public static long DecodedBytes(long chars) => (chars / 4 * 3) + 3;

    /// <summary>The width and height an image's header states; (0, 0) when not known.</summary>
    public static (int Width, int Height) ImageSize(ReadOnlySpan<char> base64)
    {
        // 48 bytes hold the size of a PNG, GIF or WebP; only a JPEG needs more (its frame header follows its other segments).
        var head = Decode(base64[..Math.Min(base64.Length, 64)]);
        if (head.Length >= 4 && head[0] == 0xFF && head[1] == 0xD8)
        {
            head = Decode(base64);
        }

        return head.Length switch
        {
            >= 24 when head[..8].SequenceEqual<byte>([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]) =>
                (Positive(BinaryPrimitives.ReadUInt32BigEndian(head[16..])), Positive(BinaryPrimitives.ReadUInt32BigEndian(head[20..]))),
            >= 10 when head[..4].SequenceEqual("GIF8"u8) =>
                (BinaryPrimitives.ReadUInt16LittleEndian(head[6..]), BinaryPrimitives.ReadUInt16LittleEndian(head[8..])),
            >= 30 when head[..4].SequenceEqual("RIFF"u8) && head[8..12].SequenceEqual("WEBP"u8) => WebPSize(head),
            >= 4 when head[0] == 0xFF && head[1] == 0xD8 => JpegSize(head),
            _ => (0, 0),
        };
    }

    /// <summary>A WAV's stated bytes a second (its <c>fmt </c> chunk's byte rate), or 0 when not a WAV or not stated.</summary>
    public static int WavByteRate(ReadOnlySpan<char> base64)
    {
        var head = Decode(base64[..Math.Min(base64.Length, 4096)]);
        if (head.Length < 12 || !head[..4].SequenceEqual("RIFF"u8) || !head[8..12].SequenceEqual("WAVE"u8))
        {
            return 0;
        }

        // A chunk is read only when its first 20 bytes are there (id, size and a fmt chunk's fields up to the byte rate).
        for (var at = 12; at + 20 <= head.Length;)
        {
            var size = BinaryPrimitives.ReadUInt32LittleEndian(head[(at + 4)..]);
            if (head.Slice(at, 4).SequenceEqual("fmt "u8))
            {
                return FormatByteRate(head[at..]);
            }

            if (size > int.MaxValue - at - 9)
            {
                return 0;
            }

            at += 8 + (int)size + (int)(size & 1);
        }

        return 0;
    }

    /// <summary>
    /// The fewest bytes a second a <c>fmt </c> chunk allows: its byte-rate field, or its sample rate × channels × bits
    /// a sample, whichever is less. A decoder times PCM by the latter and ignores the redundant field, so a field that
    /// overstates the format must not shorten the duration (the lower rate is the longer audio).
    /// </summary>
    private static int FormatByteRate(ReadOnlySpan<byte> fmt)
    {
        long rate = BinaryPrimitives.ReadUInt32LittleEndian(fmt[16..]);
        if (fmt.Length >= 24)
        {
            long channels = BinaryPrimitives.ReadUInt16LittleEndian(fmt[10..]);
            long sampleRate = BinaryPrimitives.ReadUInt32LittleEndian(fmt[12..]);
            long bits = BinaryPrimitives.ReadUInt16LittleEndian(fmt[22..]);
            var stated = sampleRate * channels * bits / 8;
            rate = rate == 0 ? stated : stated == 0 ? rate : Math.Min(rate, stated);
        }

        return (int)Math.Min(int.MaxValue, rate);
    }

    private static ReadOnlySpan<byte> Decode(ReadOnlySpan<char> base64)
    {
        var chars = base64[..(Math.Min(base64.Length, MaxHeaderChars) & ~3)];
        var bytes = new byte[chars.Length / 4 * 3];
        // A payload that is not clean base64 is unknown: the provider would refuse it anyway.
        return Convert.TryFromBase64Chars(chars, bytes, out var written) ? bytes.AsSpan(0, written) : [];
    }

    private static (int, int) WebPSize(ReadOnlySpan<byte> head)
    {
        var chunk = head[12..16];
        if (chunk.SequenceEqual("VP8X"u8))
        {
            return (1 + (head[24] | (head[25] << 8) | (head[26] << 16)), 1 + (head[27] | (head[28] << 8) | (head[29] << 16)));
        }

        if (chunk.SequenceEqual("VP8L"u8) && head[20] == 0x2F)
        {
            var bits = BinaryPrimitives.ReadUInt32LittleEndian(head[21..]);
            return (1 + (int)(bits & 0x3FFF), 1 + (int)((bits >> 14) & 0x3FFF));
        }

        return chunk.SequenceEqual("VP8 "u8)
            ? (BinaryPrimitives.ReadUInt16LittleEndian(head[26..]) & 0x3FFF, BinaryPrimitives.ReadUInt16LittleEndian(head[28..]) & 0x3FFF)
            : (0, 0);
    }

    private static (int, int) JpegSize(ReadOnlySpan<byte> head)
    {
        for (var at = 2; at + 9 <= head.Length;)
        {
            if (head[at] != 0xFF)
            {
                return (0, 0);
            }

            var marker = head[at + 1];
            if (marker == 0xFF || marker == 0x01 || marker is >= 0xD0 and <= 0xD7)
            {
                at += marker == 0xFF ? 1 : 2; // fill byte, or a marker with no length
                continue;
            }

            // SOF0–SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
            if (marker is >= 0xC0 and <= 0xCF && marker is not (0xC4 or 0xC8 or 0xCC))
            {
                return (BinaryPrimitives.ReadUInt16BigEndian(head[(at + 7)..]), BinaryPrimitives.ReadUInt16BigEndian(head[(at + 5)..]));
            }

            at += 2 + BinaryPrimitives.ReadUInt16BigEndian(head[(at + 2)..]);
        }

        return (0, 0);
    }

    private static int Positive(uint value) => value is > 0 and <= int.MaxValue ? (int)value : 0;
}
