using System.Buffers.Binary;

namespace RelayCluster.Tests.Wire;

/// <summary>The first bytes of media files as their formats define them, enough for a header reader (not for a decoder).</summary>
internal static class MediaSamples
{
    public static byte[] Png(int width, int height)
    {
        var bytes = new byte[33];
        new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, (byte)'I', (byte)'H', (byte)'D', (byte)'R' }.CopyTo(bytes, 0);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(16), (uint)width);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(20), (uint)height);
        bytes[24] = 8;
        bytes[25] = 2;
        return bytes;
    }

    public static byte[] Gif(int width, int height)
    {
        var bytes = "GIF89a\0\0\0\0\0\0\0"u8.ToArray();
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(6), (ushort)width);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)height);
        return bytes;
    }

    /// <summary>SOI, an APP0 (JFIF) segment of <paramref name="app0Bytes"/>, a DHT stub, then SOF2 (progressive) with the size.</summary>
    public static byte[] Jpeg(int width, int height, int app0Bytes = 16)
    {
        var bytes = new List<byte> { 0xFF, 0xD8, 0xFF, 0xE0, (byte)(app0Bytes >> 8), (byte)app0Bytes };
        bytes.AddRange(new byte[app0Bytes - 2]);
        bytes.AddRange([0xFF, 0xC4, 0, 3, 0]);
        bytes.AddRange([0xFF, 0xC2, 0, 17, 8, (byte)(height >> 8), (byte)height, (byte)(width >> 8), (byte)width, 3]);
        bytes.AddRange(new byte[9]);
        return [.. bytes];
    }

    public static byte[] WebPExtended(int width, int height)
    {
        var bytes = new byte[30];
        "RIFF"u8.CopyTo(bytes);
        "WEBPVP8X"u8.CopyTo(bytes.AsSpan(8));
        bytes[16] = 10;
        (bytes[24], bytes[25], bytes[26]) = ((byte)(width - 1), (byte)((width - 1) >> 8), (byte)((width - 1) >> 16));
        (bytes[27], bytes[28], bytes[29]) = ((byte)(height - 1), (byte)((height - 1) >> 8), (byte)((height - 1) >> 16));
        return bytes;
    }

    /// <summary>A PCM WAV of <paramref name="seconds"/> of silence at <paramref name="byteRate"/> bytes a second.</summary>
    public static byte[] Wav(int seconds, int byteRate)
    {
        var data = seconds * byteRate;
        var bytes = new byte[44 + data];
        "RIFF"u8.CopyTo(bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), (uint)(36 + data));
        "WAVEfmt "u8.CopyTo(bytes.AsSpan(8));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(16), 16);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(20), 1);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(22), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(24), (uint)(byteRate / 2));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(28), (uint)byteRate);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(32), 2);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(34), 16);
        "data"u8.CopyTo(bytes.AsSpan(36));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(40), (uint)data);
        return bytes;
    }

    public static string DataUrl(string mime, byte[] bytes) => $"data:{mime};base64,{Convert.ToBase64String(bytes)}";
}
