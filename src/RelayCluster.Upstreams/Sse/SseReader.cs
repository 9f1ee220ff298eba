using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using RelayCluster.Core;

namespace RelayCluster.Upstreams.Sse;

/// <summary>
/// Reads the <c>data</c> payloads of a server-sent event stream straight from the bytes, following the
/// WHATWG rules the SDKs use: lines end in LF, CRLF or CR; <c>:</c> starts a comment; multi-line data is
/// joined with LF; a blank line dispatches an event; a UTF-8 byte order mark at the start is dropped; a field name
/// without a colon is a field with an empty value. Unlike the spec, which drops an event the stream ends in before its
/// blank line, the last event counts even without it: an upstream that ends on <c>data: [DONE]</c> has finished,
/// and the relay re-emits every event with its blank line. Other fields
/// (<c>event</c>, <c>id</c>, <c>retry</c>) are read past, as OpenAI chat streams carry none and the relay re-emits
/// only the data (WHATWG HTML §9.2.6, "Interpreting an event stream").
/// An event (or a line) longer than <c>maxEventBytes</c> is an <see cref="SseEventTooLargeException"/>: the reader
/// holds one event whole, so without a bound an upstream that never ends a line would fill the relay's memory.
/// The event's data is gathered in a buffer rented from the shared pool and given back at disposal (a new 1 KiB
/// buffer per reader was ~8 % of the bytes a streamed request allocated: a stream is read by two readers, the
/// vetting peek and the relay).
/// </summary>
public sealed class SseReader(Stream stream, bool leaveOpen = false, int maxEventBytes = SseReader.MaxEventBytes) : IAsyncDisposable
{
    /// <summary>The most one event may hold by default: far above any chunk a model sends (OpenAI's are a few KiB).</summary>
    public const int MaxEventBytes = 8 * 1024 * 1024;

    // The options are immutable: one instance each instead of one per reader.
    private static readonly StreamPipeReaderOptions Owning = new(bufferSize: 16 * 1024, leaveOpen: false);
    private static readonly StreamPipeReaderOptions Borrowing = new(bufferSize: 16 * 1024, leaveOpen: true);

    private readonly PipeReader _reader = PipeReader.Create(stream, leaveOpen ? Borrowing : Owning);
    private readonly PooledBytes _data = new(1024);
    private bool _hasData;
    private bool _pastStart;
    private bool _afterCarriageReturn;

    /// <summary>The next event's data, or null at the end of the stream. Valid until the next call.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ReadOnlyMemory<byte>?> ReadEventAsync(CancellationToken cancellationToken)
    {
        _data.Clear();
        _hasData = false;
        while (true)
        {
            var result = await _reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            if (!_pastStart && !SkipByteOrderMark(ref buffer, result.IsCompleted))
            {
                _reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    return null;
                }

                continue;
            }

            if (TryReadEvent(ref buffer, result.IsCompleted))
            {
                // More events may already be buffered: mark only what was consumed as examined.
                _reader.AdvanceTo(buffer.Start);
                return _data.WrittenMemory;
            }

            var held = buffer.Length + _data.Written; // the event so far and its unfinished line
            _reader.AdvanceTo(buffer.Start, buffer.End);

            if (result.IsCompleted)
            {
                return null;
            }

            if (held > maxEventBytes)
            {
                throw new SseEventTooLargeException(maxEventBytes);
            }
        }
    }

    /// <summary>Completes the pipe (disposing the stream unless borrowed) and gives the data buffer back; a second call does nothing more.</summary>
    public ValueTask DisposeAsync()
    {
        _data.Return();
        return _reader.CompleteAsync();
    }

    /// <summary>Drops a leading byte order mark (the decoder does, before the parser sees the stream); false while too few bytes are in to tell.</summary>
    private bool SkipByteOrderMark(ref ReadOnlySequence<byte> buffer, bool isFinal)
    {
        ReadOnlySpan<byte> mark = [0xEF, 0xBB, 0xBF];
        Span<byte> first = stackalloc byte[3];
        var head = first[..(int)Math.Min(buffer.Length, mark.Length)];
        buffer.Slice(0, head.Length).CopyTo(head);
        if (head.Length < mark.Length && !isFinal && mark.StartsWith(head))
        {
            return false;
        }

        _pastStart = true;
        if (head.SequenceEqual(mark))
        {
            buffer = buffer.Slice(mark.Length);
        }

        return true;
    }

    private bool TryReadEvent(ref ReadOnlySequence<byte> buffer, bool isFinal)
    {
        while (TryReadLine(ref buffer, isFinal, out var line))
        {
            if (line.IsEmpty)
            {
                if (_hasData)
                {
                    return true;
                }

                continue;
            }

            var span = line.IsSingleSegment ? line.FirstSpan : line.ToArray();
            if (span[0] == (byte)':')
            {
                continue;
            }

            if (span.StartsWith("data"u8))
            {
                var value = span[4..];
                if (!value.IsEmpty && value[0] == (byte)':')
                {
                    value = value[1..];
                    value = !value.IsEmpty && value[0] == (byte)' ' ? value[1..] : value;
                }
                else if (!value.IsEmpty)
                {
                    continue; // a field named e.g. "datax": not ours
                }

                if (_hasData)
                {
                    _data.Write("\n"u8);
                }

                _data.Write(value);
                _hasData = true;
            }
        }

        // A stream that ends without a final blank line still delivers its last event.
        return isFinal && buffer.IsEmpty && _hasData;
    }

    private bool TryReadLine(ref ReadOnlySequence<byte> buffer, bool isFinal, out ReadOnlySequence<byte> line)
    {
        if (_afterCarriageReturn && !buffer.IsEmpty)
        {
            // The last line ended in a CR at the end of what had come: an LF now is the rest of that CRLF.
            _afterCarriageReturn = false;
            if (buffer.FirstSpan[0] == (byte)'\n')
            {
                buffer = buffer.Slice(1);
            }
        }

        var end = buffer.PositionOfAny((byte)'\n', (byte)'\r');
        if (end is null)
        {
            if (isFinal && !buffer.IsEmpty)
            {
                line = buffer;
                buffer = buffer.Slice(buffer.End);
                return true;
            }

            line = default;
            return false;
        }

        line = buffer.Slice(0, end.Value);
        var terminator = buffer.Slice(end.Value);
        var skip = 1;
        if (terminator.FirstSpan[0] == (byte)'\r')
        {
            // A CR ends the line at once, even as the last byte in: waiting to see whether an LF follows would hold
            // an event of a CR-only stream back until the upstream's next bytes.
            _afterCarriageReturn = terminator.Length < 2;
            skip = terminator.Length >= 2 && terminator.Slice(1, 1).FirstSpan[0] == (byte)'\n' ? 2 : 1;
        }

        buffer = terminator.Slice(skip);
        return true;
    }
}

/// <summary>
/// An event stream sent an event past the reader's bound. An <see cref="IOException"/>, so every reader of an
/// upstream body treats it as a broken stream (before the first byte: retryable; after it: the stream ends).
/// </summary>
public sealed class SseEventTooLargeException(int limit)
    : IOException($"The upstream sent an event of more than {limit} bytes.");

internal static class SequenceExtensions
{
    public static SequencePosition? PositionOfAny(this ReadOnlySequence<byte> buffer, byte first, byte second)
    {
        var offset = 0L;
        foreach (var segment in buffer)
        {
            var index = segment.Span.IndexOfAny(first, second);
            if (index >= 0)
            {
                return buffer.GetPosition(offset + index);
            }

            offset += segment.Length;
        }

        return null;
    }
}
