namespace RelayCluster.Silo.Api;

/// <summary>
/// The request body, remembering whether reading it failed or reached its end, so an upload can tell a broken
/// body (the client's fault, 400) from a failing disk (the relay's, 500): both surface as <see cref="IOException"/>,
/// and a multipart body cut short is reported by the reader only after the body has ended.
/// </summary>
internal sealed class ReadTrackingStream(Stream inner) : Stream
{
    private bool _failed;
    private bool _ended;

    public bool Broken => _failed || _ended;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            var read = await inner.ReadAsync(buffer, cancellationToken);
            _ended |= read == 0 && buffer.Length > 0;
            return read;
        }
        catch (IOException)
        {
            _failed = true;
            throw;
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    // Kestrel forbids synchronous reads; so does this stream.
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
