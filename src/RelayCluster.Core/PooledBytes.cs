using System.Buffers;

namespace RelayCluster.Core;

/// <summary>
/// A growing byte buffer rented from <see cref="ArrayPool{T}.Shared"/>, written through <see cref="IBufferWriter{T}"/> (a
/// <c>Utf8JsonWriter</c> writes straight into it; <c>BuffersExtensions.Write</c> appends a span). It doubles (at least)
/// whenever a write needs more, moving the bytes to a bigger array, so what was written is read back only once writing is
/// over (<see cref="WrittenMemory"/>, <see cref="Slice"/>). <see cref="Return"/> gives the array back. Not thread-safe.
/// The hot path's buffers (an SSE event's data, a stream's replayed head, a Redis commit's arguments) are this one type.
/// </summary>
public sealed class PooledBytes : IBufferWriter<byte>
{
    private byte[] _buffer;

    /// <param name="capacity">The first array's size in bytes.</param>
    public PooledBytes(int capacity) => _buffer = ArrayPool<byte>.Shared.Rent(capacity);

    /// <summary>Bytes written so far.</summary>
    public int Written { get; private set; }

    /// <summary>Everything written; valid until the next write, <see cref="Clear"/> or <see cref="Return"/>.</summary>
    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, Written);

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

    /// <summary>Bytes [<paramref name="start"/>, <paramref name="end"/>) as written; valid as <see cref="WrittenMemory"/>.</summary>
    public ReadOnlyMemory<byte> Slice(int start, int end) => _buffer.AsMemory(start, end - start);

    /// <summary>Starts writing afresh in the same array.</summary>
    public void Clear() => Written = 0;

    /// <summary>Gives the array back to the pool (only once nothing reads what was written); a second call does nothing.</summary>
    public void Return()
    {
        var buffer = _buffer;
        _buffer = [];
        Written = 0;
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
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
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }

        _buffer = bigger;
    }
}
