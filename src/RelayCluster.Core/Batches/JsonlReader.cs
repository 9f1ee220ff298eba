namespace RelayCluster.Core.Batches;

/// <summary>
/// Reads a JSON-lines stream one line at a time, with each line's byte offset, so that a chunk can later be
/// read from its first byte without scanning what comes before it. Only one line is held at a time (lines
/// may be as long as a request body); a trailing <c>\r</c> is dropped and blank lines are reported as empty.
/// </summary>
public sealed class JsonlReader(Stream stream, long startOffset = 0) : IDisposable
{
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;
    private bool _eof;
    private long _offset = startOffset;

    /// <summary>The next line (without its terminator; valid until the next read) and its offset, or null at the end.</summary>
    public async ValueTask<(ReadOnlyMemory<byte> Line, long Offset)?> ReadLineAsync(long maxLineBytes, CancellationToken cancellationToken = default)
    {
        var scanned = 0;
        while (true)
        {
            var newline = Array.IndexOf(_buffer, (byte)'\n', _start + scanned, _end - _start - scanned);
            if (newline >= 0)
            {
                return Take(newline - _start, newline - _start + 1);
            }

            if (_eof)
            {
                return _end > _start ? Take(_end - _start, _end - _start) : null;
            }

            scanned = _end - _start;
            if (scanned > maxLineBytes)
            {
                throw new InvalidDataException($"A line is longer than {maxLineBytes} bytes.");
            }

            await FillAsync(cancellationToken);
        }
    }

    public void Dispose() => stream.Dispose();

    private (ReadOnlyMemory<byte>, long) Take(int length, int consumed)
    {
        var offset = _offset;
        var line = new ReadOnlyMemory<byte>(_buffer, _start, length);
        if (length > 0 && _buffer[_start + length - 1] == (byte)'\r')
        {
            line = line[..^1];
        }

        _start += consumed;
        _offset += consumed;
        return (line, offset);
    }

    private async ValueTask FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            // Moving the partial line to the front; the previous line's memory is no longer the caller's.
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }

        var read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
        _eof = read == 0;
        _end += read;
    }
}
