namespace RelayCluster.Core.Files;

/// <summary>A stored file as the store keeps it. Times are unix seconds; <see cref="ExpiresAt"/> null never expires.</summary>
public sealed record StoredFile(string Id, string TenantId, string Filename, string Purpose, long Bytes, long CreatedAt, long? ExpiresAt);

public sealed class FileTooLargeException(long limit) : Exception($"The file is larger than {limit} bytes.")
{
    public long Limit { get; } = limit;
}

/// <summary>An upload refused because the tenant's files would pass its storage limit (bytes).</summary>
public sealed class StorageQuotaExceededException(long limit) : Exception($"The tenant's file storage limit of {limit} bytes would be exceeded.")
{
    public long Limit { get; } = limit;
}

/// <summary>
/// A tenant's file storage: visible (unexpired) files and their bytes, the bytes of uploads in progress on this
/// silo, and the limit uploads are held to.
/// </summary>
public sealed record FileStorageUsage(int Files, long Bytes, long UploadingBytes, long LimitBytes);

/// <summary>
/// Tenant-scoped file storage. Another tenant's file, a missing one and an expired one all look the same
/// (null or false), so ids never leak across tenants.
/// </summary>
public interface IFileStore
{
    /// <summary>
    /// Streams content to the store; throws FileTooLargeException (leaving nothing behind) past maxBytes.
    /// A null <paramref name="expiresAfterSeconds"/> takes the default for the purpose: <c>Relay:Files:DefaultExpirySeconds</c>
    /// for <c>batch</c> and <c>batch_output</c>, never for the others.
    /// </summary>
    Task<StoredFile> SaveAsync(string tenantId, string filename, string purpose, Stream content, long? expiresAfterSeconds, long maxBytes, CancellationToken cancellationToken);

    /// <summary>Null when missing, expired, or another tenant's.</summary>
    ValueTask<StoredFile?> GetAsync(string tenantId, string fileId, CancellationToken cancellationToken = default);

    /// <summary>Null when GetAsync would be null. The caller disposes the stream.</summary>
    ValueTask<Stream?> OpenReadAsync(string tenantId, string fileId, CancellationToken cancellationToken = default);

    /// <summary>False when GetAsync would be null (or another caller deleted it first).</summary>
    ValueTask<bool> DeleteAsync(string tenantId, string fileId, CancellationToken cancellationToken = default);

    /// <summary>
    /// One page of the tenant's visible files ordered by (CreatedAt, Id), newest first when descending.
    /// <paramref name="after"/> is a file id (the cursor): the page starts just past it in that order, whether or
    /// not that file still exists. <see cref="FilePage.HasMore"/> says whether another page follows.
    /// </summary>
    ValueTask<FilePage> ListAsync(string tenantId, string? purpose, string? after, int limit, bool descending, CancellationToken cancellationToken = default);

    /// <summary>The tenant's storage as its uploads are counted against <c>Relay:Files:MaxBytesPerTenant</c>.</summary>
    ValueTask<FileStorageUsage> GetUsageAsync(string tenantId, CancellationToken cancellationToken = default);
}

/// <summary>Up to <c>limit</c> files, and whether more follow.</summary>
public sealed record FilePage(IReadOnlyList<StoredFile> Files, bool HasMore);
