using System.Buffers;
using System.Runtime.CompilerServices;
using RelayCluster.Core;

namespace RelayCluster.Upstreams.Sse;

/// <summary>
/// Reads a stream's first event without taking it from the stream: the bytes read for it are kept and replayed,
/// so whoever reads the stream next gets it whole from its first byte. This is how a stream is vetted before any
/// of it reaches the caller, while a retry or a fallback is still possible.
/// </summary>
public static class SsePeek
{
    /// <summary>
    /// The first event's data (null if the stream ended with none, or its first <paramref name="limit"/> bytes held
    /// none: then <c>Overflowed</c>) and the stream to read in place of <paramref name="body"/>, which it owns.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<(byte[]? FirstEvent, bool Overflowed, Stream Body)> FirstEventAsync(Stream body, int limit, CancellationToken cancellationToken)
    {
        var replay = new ReplayStream(body, limit);
        byte[]? first;
        await using (var reader = new SseReader(replay, leaveOpen: true))
        {
            do
            {
                first = (await reader.ReadEventAsync(cancellationToken))?.ToArray();
            }
            while (first is { Length: 0 }); // an event with empty data carries nothing: a keep-alive (see StreamingRelay)
        }

        replay.Rewind();
        return (first, first is null && replay.Overflowed, replay);
    }

    /// <summary>
    /// Records what is read until <see cref="Rewind"/>, then serves the record before the rest of the stream. The
    /// record is a buffer rented from the shared pool and given back once replayed (or at disposal): a MemoryStream grown
    /// from 256 bytes was a tenth of the bytes a streamed request allocated.
    /// </summary>
    private sealed class ReplayStream(Stream inner, int limit) : Stream
    {
        private readonly PooledBytes _seen = new(4096);
        private int _replayed;
        private bool _replaying;

        public bool Overflowed { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public void Rewind() => _replaying = true;

        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_replaying)
            {
                if (_replayed < _seen.Written)
                {
                    var count = Math.Min(buffer.Length, _seen.Written - _replayed);
                    _seen.Slice(_replayed, _replayed + count).Span.CopyTo(buffer.Span);
                    _replayed += count;
                    if (_replayed == _seen.Written)
                    {
                        _seen.Return(); // replayed: from here on reads go straight to the stream
                    }

                    return count;
                }

                return await inner.ReadAsync(buffer, cancellationToken);
            }

            if (_seen.Written >= limit)
            {
                Overflowed = true;
                return 0; // as far as the peek goes, the stream ends here
            }

            var read = await inner.ReadAsync(buffer[..Math.Min(buffer.Length, limit - _seen.Written)], cancellationToken);
            _seen.Write(buffer.Span[..read]);
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _seen.Return();
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            _seen.Return();
            await inner.DisposeAsync();
            await base.DisposeAsync();
        }
    }
}
