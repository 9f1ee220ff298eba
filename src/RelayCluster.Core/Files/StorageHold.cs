namespace RelayCluster.Core.Files;

/// <summary>
/// What one upload holds against its tenant's storage limit while it streams in: grown a buffer at a time, handed
/// to the stored file on commit, given back in full if the upload is refused, fails or is abandoned. Release and
/// commit are each effective once, so no path can free a hold twice or leak one.
/// </summary>
internal sealed class StorageHold(TenantFileIndex index, long limit, Func<CancellationToken, ValueTask> refresh)
{
    /// <summary>How often a long upload re-reads the directory's membership (one stat when nothing changed).</summary>
    private const long RefreshEveryBytes = 1024 * 1024;

    private long _bytes;
    private long _refreshedAt;
    private int _ended;

    public long Limit => limit;

    /// <summary>
    /// Before each further MiB of a long upload, brings the index up to date, so files other silos stored
    /// meanwhile count against the rest of it.
    /// </summary>
    public async ValueTask RefreshIfDueAsync(CancellationToken cancellationToken)
    {
        if (_bytes - _refreshedAt >= RefreshEveryBytes)
        {
            _refreshedAt = _bytes;
            await refresh(cancellationToken);
        }
    }

    /// <summary>Holds <paramref name="bytes"/> more, or false (holding nothing more) if the limit would be passed.</summary>
    public bool TryAdd(long bytes, long now)
    {
        if (!index.TryReserve(bytes, limit, now))
        {
            return false;
        }

        _bytes += bytes;
        return true;
    }

    /// <summary>The upload became <paramref name="file"/>: its bytes now count as the file's.</summary>
    public void Commit(StoredFile file)
    {
        if (Interlocked.Exchange(ref _ended, 1) == 0)
        {
            index.Add(file, _bytes);
        }
    }

    public void Release()
    {
        if (Interlocked.Exchange(ref _ended, 1) == 0)
        {
            index.Unreserve(_bytes);
        }
    }
}
