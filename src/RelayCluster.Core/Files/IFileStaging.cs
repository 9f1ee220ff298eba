namespace RelayCluster.Core.Files;

/// <summary>
/// Uploads whose metadata arrives after the content: in a multipart/form-data body the <c>purpose</c> field may
/// follow the <c>file</c> part (the openai Node SDK sends it so). The content streams to a staging file first and
/// becomes a stored file only when committed, so nothing is buffered in memory and nothing is copied twice.
/// </summary>
public interface IFileStaging
{
    /// <summary>
    /// Streams content to a staging file; throws FileTooLargeException past maxBytes, and
    /// StorageQuotaExceededException past the tenant's storage limit (counting its files and uploads in progress),
    /// leaving nothing behind either way.
    /// </summary>
    Task<IStagedFile> StageAsync(string tenantId, Stream content, long maxBytes, CancellationToken cancellationToken);
}

/// <summary>Staged content. Disposing it without <see cref="CommitAsync"/> removes it.</summary>
public interface IStagedFile : IAsyncDisposable
{
    long Bytes { get; }

    /// <summary>Makes the content a stored file (visible from then on); expiry as in <see cref="IFileStore.SaveAsync"/>.</summary>
    Task<StoredFile> CommitAsync(string filename, string purpose, long? expiresAfterSeconds, CancellationToken cancellationToken);
}
