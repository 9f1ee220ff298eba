namespace RelayCluster.Bench;

/// <summary>
/// Finds an ASCII marker (<c>data:</c>, <c>[DONE]</c>) in a byte stream that arrives in arbitrary
/// chunks, without buffering the stream. The fallback on a mismatch (restart, or restart at 1 when the
/// byte is the marker's first) is exact only when the first byte occurs nowhere else in the marker,
/// which the constructor checks.
/// </summary>
internal struct StreamMarker
{
    private readonly byte[] _marker;
    private int _matched;

    public StreamMarker(string marker)
    {
        _marker = System.Text.Encoding.ASCII.GetBytes(marker);
        if (Array.LastIndexOf(_marker, _marker[0]) != 0)
        {
            throw new ArgumentException("The marker's first byte must not repeat.", nameof(marker));
        }

        _matched = 0;
    }

    public bool Found { get; private set; }

    /// <summary>Feeds the next chunk; returns true on the chunk that completes the marker.</summary>
    public bool Feed(ReadOnlySpan<byte> chunk)
    {
        if (Found)
        {
            return false;
        }

        foreach (var b in chunk)
        {
            _matched = b == _marker[_matched] ? _matched + 1 : b == _marker[0] ? 1 : 0;
            if (_matched == _marker.Length)
            {
                Found = true;
                return true;
            }
        }

        return false;
    }
}
