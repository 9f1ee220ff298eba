namespace RelayCluster.Core.Files;

public sealed partial class DirectoryFileStore
{
    // What an interrupted upload or delete leaves behind is removed once this old: far longer than any upload
    // takes, so a silo never removes another silo's upload in progress.
    private static readonly TimeSpan LeftoverAge = TimeSpan.FromDays(1);

    /// <summary>
    /// Deletes every tenant's expired files, and leftovers of crashed uploads and deletes (staging, temporary and
    /// tombstone files, content without metadata, unreadable metadata). Returns how many expired files it deleted.
    /// Every silo may sweep the shared volume at once: each delete is won by exactly one of them.
    /// </summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken = default)
    {
        if (!Directory.Exists(_root))
        {
            return 0;
        }

        var now = Now();
        var nowSeconds = now.ToUnixTimeSeconds();
        var leftoverBefore = (now - LeftoverAge).UtcDateTime;
        var deleted = 0;
        foreach (var directory in Directory.GetDirectories(_root))
        {
            foreach (var path in Directory.GetFiles(directory, "file-*" + MetadataSuffix))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var id = Path.GetFileNameWithoutExtension(path);
                var file = await ReadMetadataAsync(path, cancellationToken);
                if (file is { ExpiresAt: { } expiresAt } && expiresAt <= nowSeconds)
                {
                    deleted += Remove(directory, id) ? 1 : 0;
                }
                else if (file is null && WrittenBefore(path, leftoverBefore))
                {
                    Remove(directory, id);
                }
            }

            foreach (var path in Directory.GetFiles(directory, ".*").Where(p => WrittenBefore(p, leftoverBefore)))
            {
                File.Delete(path);
            }

            foreach (var path in Directory.GetFiles(directory, "file-*" + ContentSuffix))
            {
                if (!File.Exists(MetadataPath(directory, Path.GetFileNameWithoutExtension(path))) && WrittenBefore(path, leftoverBefore))
                {
                    File.Delete(path);
                }
            }
        }

        return deleted;
    }

    // A file that is gone reads as written in 1601: old, and deleting it again is a no-op.
    private static bool WrittenBefore(string path, DateTime before) => File.GetLastWriteTimeUtc(path) < before;
}
