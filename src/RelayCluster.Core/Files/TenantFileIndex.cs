namespace RelayCluster.Core.Files;

/// <summary>
/// One silo's index of one tenant directory: the metadata of every file in it, its ids in order, and the bytes
/// this silo's uploads in progress hold against the tenant's storage limit. Listing pages and the storage count
/// come from here, not from opening every metadata file on every call.
/// <para>
/// Correct across silos sharing the volume: metadata never changes once written (a file is created whole and
/// only ever deleted), so a cached entry is never stale in content; only membership can be, and membership is
/// re-read from the directory whenever the directory's modification time moved since the last scan (any create,
/// rename or delete in it, by any silo, moves it). Only the new names' metadata are read. A scan is trusted only if
/// the directory was last written more than <see cref="RacyWindow"/> before it began, so two changes within one tick
/// of a coarse file-system clock cannot hide behind an unchanged time (git's "racy" rule). A quiet directory
/// therefore costs one stat per call, a busy one a name listing (no stat or parse of each file).
/// </para>
/// </summary>
internal sealed class TenantFileIndex
{
    /// <summary>A directory written this recently may change again within the same timestamp tick.</summary>
    private static readonly TimeSpan RacyWindow = TimeSpan.FromSeconds(2);

    private readonly SemaphoreSlim _scan = new(1, 1);
    private readonly Lock _sync = new();
    private readonly Dictionary<string, StoredFile> _files = new(StringComparer.Ordinal);
    private string[]? _ordered; // ids ascending (creation order); null when membership changed since it was built
    private DateTime _scannedWriteTime;
    private bool _trusted;
    private long _reservedBytes;
    private long _visibleBytes;
    private long _membershipVersion; // moved by every change of _files, under _sync
    private long _visibleValidUntil = long.MinValue; // unix seconds: membership change or the next expiry invalidates it

    /// <summary>Whether a directory exists; a seam so a test can put a commit between the check and what follows it.</summary>
    private readonly Func<string, bool> _directoryExists;

    /// <param name="directoryExists">Defaults to <see cref="Directory.Exists(string?)"/>.</param>
    public TenantFileIndex(Func<string, bool>? directoryExists = null) => _directoryExists = directoryExists ?? Directory.Exists;

    /// <summary>Brings membership up to date with the directory (see the class remarks for when that reads anything).</summary>
    public async ValueTask RefreshAsync(string directory, Func<string, CancellationToken, ValueTask<StoredFile?>> readMetadata, CancellationToken cancellationToken)
    {
        // Read before the existence check: a membership change after it (a commit on this silo creates the directory
        // and writes its file into it) proves the check stale, and then nothing is cleared; the next call checks again.
        // Clearing on a stale "no directory" dropped a just-committed file from the count, so concurrent first uploads
        // of a tenant could pass its storage limit (the likely cause of a CI run accepting 5 uploads where 3 fit).
        long versionBeforeCheck;
        lock (_sync)
        {
            versionBeforeCheck = _membershipVersion;
        }

        if (!_directoryExists(directory))
        {
            // No directory, no files (a purged tenant's was deleted). Its "write time" reads as the same placeholder
            // before it was created and after it was deleted, so the time alone would call stale entries current.
            lock (_sync)
            {
                if (_files.Count > 0 && _membershipVersion == versionBeforeCheck)
                {
                    _files.Clear();
                    MembershipChanged();
                }
            }

            return;
        }

        if (IsCurrent(Directory.GetLastWriteTimeUtc(directory)))
        {
            return;
        }

        await _scan.WaitAsync(cancellationToken);
        try
        {
            // The time is read before the names, so a change during the listing shows as a moved time next call.
            var writeTime = Directory.GetLastWriteTimeUtc(directory);
            if (IsCurrent(writeTime))
            {
                return;
            }

            // The file system's clock, not the silo's TimeProvider: the comparison is with the volume's timestamps.
            var scanStart = DateTime.UtcNow;
            HashSet<string> known;
            lock (_sync)
            {
                known = [.. _files.Keys];
            }

            var present = new HashSet<string>(StringComparer.Ordinal);
            if (Directory.Exists(directory))
            {
                foreach (var path in Directory.EnumerateFiles(directory, FileIds.Prefix + "*" + DirectoryFileStore.MetadataSuffix))
                {
                    if (Path.GetFileNameWithoutExtension(path) is { } id && FileIds.IsValid(id))
                    {
                        present.Add(id);
                    }
                }
            }

            var added = new List<StoredFile>();
            foreach (var id in present.Where(id => !known.Contains(id)))
            {
                // Null: torn (a power loss) or deleted meanwhile; either way not a file, as for a direct read.
                if (await readMetadata(Path.Combine(directory, id + DirectoryFileStore.MetadataSuffix), cancellationToken) is { } file && file.Id == id)
                {
                    added.Add(file);
                }
            }

            lock (_sync)
            {
                // Only ids known before the listing can be judged gone: one this silo added meanwhile stays.
                foreach (var id in known.Where(id => !present.Contains(id)))
                {
                    _files.Remove(id);
                }

                foreach (var file in added)
                {
                    _files.TryAdd(file.Id, file);
                }

                MembershipChanged();
                _scannedWriteTime = writeTime;
                _trusted = scanStart - writeTime > RacyWindow;
            }
        }
        finally
        {
            _scan.Release();
        }
    }

    /// <summary>A file this silo committed; <paramref name="reservedBytes"/> of its upload's reservation become the file's.</summary>
    public void Add(StoredFile file, long reservedBytes)
    {
        lock (_sync)
        {
            _reservedBytes -= reservedBytes;
            _files[file.Id] = file;
            MembershipChanged();
        }
    }

    /// <summary>A file this silo deleted (or swept).</summary>
    public void Remove(string id)
    {
        lock (_sync)
        {
            if (_files.Remove(id))
            {
                MembershipChanged();
            }
        }
    }

    /// <summary>
    /// Holds <paramref name="bytes"/> more for an upload in progress, if the visible files, the uploads in progress
    /// and these bytes together stay within <paramref name="limit"/>. The check and the hold are one step, so
    /// concurrent uploads on this silo can never pass the limit together.
    /// </summary>
    public bool TryReserve(long bytes, long limit, long now)
    {
        lock (_sync)
        {
            if (VisibleBytes(now) + _reservedBytes + bytes > limit)
            {
                return false;
            }

            _reservedBytes += bytes;
            return true;
        }
    }

    /// <summary>Gives back what an upload that was refused or abandoned held.</summary>
    public void Unreserve(long bytes)
    {
        lock (_sync)
        {
            _reservedBytes -= bytes;
        }
    }

    /// <summary>Visible (unexpired) files and their bytes, and the bytes uploads in progress on this silo hold.</summary>
    public (int Files, long Bytes, long ReservedBytes) Usage(long now)
    {
        lock (_sync)
        {
            return (_files.Values.Count(f => IsUnexpired(f, now)), VisibleBytes(now), _reservedBytes);
        }
    }

    /// <summary>
    /// One page in (CreatedAt, Id) order, which is id order (see <see cref="FileIds"/>), starting just past
    /// <paramref name="after"/> whether or not that file still exists. Expired files and other purposes are skipped.
    /// </summary>
    public FilePage Page(Func<StoredFile, bool> isVisible, string? purpose, string? after, int limit, bool descending)
    {
        lock (_sync)
        {
            _ordered ??= [.. _files.Keys.Order(StringComparer.Ordinal)];
            var ordered = _ordered;
            int index;
            if (after is null)
            {
                index = descending ? ordered.Length - 1 : 0;
            }
            else
            {
                var found = Array.BinarySearch(ordered, after, StringComparer.Ordinal);
                var insertion = found >= 0 ? found : ~found;
                index = descending ? insertion - 1 : (found >= 0 ? found + 1 : insertion);
            }

            var page = new List<StoredFile>();
            for (; index >= 0 && index < ordered.Length; index += descending ? -1 : 1)
            {
                var file = _files[ordered[index]];
                if (!isVisible(file) || (purpose is not null && file.Purpose != purpose))
                {
                    continue;
                }

                if (page.Count == limit)
                {
                    return new FilePage(page, true);
                }

                page.Add(file);
            }

            return new FilePage(page, false);
        }
    }

    private bool IsCurrent(DateTime writeTime)
    {
        lock (_sync)
        {
            return _trusted && writeTime == _scannedWriteTime;
        }
    }

    private void MembershipChanged()
    {
        _membershipVersion++;
        _ordered = null;
        _visibleValidUntil = long.MinValue;
    }

    /// <summary>The sum over unexpired files, recomputed only after a membership change or once the next file expires.</summary>
    private long VisibleBytes(long now)
    {
        if (now >= _visibleValidUntil)
        {
            long bytes = 0;
            var nextExpiry = long.MaxValue;
            foreach (var file in _files.Values)
            {
                if (IsUnexpired(file, now))
                {
                    bytes += file.Bytes;
                    nextExpiry = Math.Min(nextExpiry, file.ExpiresAt ?? long.MaxValue);
                }
            }

            _visibleBytes = bytes;
            _visibleValidUntil = nextExpiry;
        }

        return _visibleBytes;
    }

    private static bool IsUnexpired(StoredFile file, long now) => file.ExpiresAt is not { } expiresAt || expiresAt > now;
}
