using System.Buffers;

namespace RelayCluster.Redis;

/// <summary>
/// A growing UTF-8 buffer rented from <see cref="ArrayPool{T}.Shared"/>, written through <see cref="IBufferWriter{T}"/>
/// (a <c>Utf8JsonWriter</c> writes straight into it). Values are read back as slices only once writing is over
/// (<see cref="Slice"/>), since growing moves the bytes to a bigger array. Not thread-safe.
/// </summary>
internal sealed class RedisPooledBytes : IBufferWriter<byte>
{
    private byte[] _buffer;

    /// <param name="capacity">The first array's size in bytes; it doubles (at least) whenever a write needs more.</param>
    public RedisPooledBytes(int capacity) => _buffer = ArrayPool<byte>.Shared.Rent(capacity);

    /// <summary>Bytes written so far.</summary>
    public int Written { get; private set; }

    public void Advance(int count) => Written += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(Written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(Written);
    }

    /// <summary>Bytes [<paramref name="start"/>, <paramref name="end"/>) as written; valid until <see cref="Return"/>.</summary>
    public ReadOnlyMemory<byte> Slice(int start, int end) => _buffer.AsMemory(start, end - start);

    /// <summary>Gives the array back to the pool: only once nothing reads a slice any more.</summary>
    public void Return()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }

    private void Ensure(int sizeHint)
    {
        var needed = Written + Math.Max(sizeHint, 1);
        if (needed <= _buffer.Length)
        {
            return;
        }

        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, 2 * _buffer.Length));
        _buffer.AsSpan(0, Written).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }
}
