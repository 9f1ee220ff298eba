using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Serialization;
using RelayCluster.Core.Configuration;

namespace RelayCluster.Core.Files;

/// <summary>
/// The file store as a directory, which the silos of a cluster share as a volume, so everything lives on disk
/// and nothing in a silo's memory: <c>{root}/{tenant}/{id}.content</c> and its metadata <c>{id}.json</c>.
/// A file exists once its metadata does. Content streams to a staging name and is renamed into place, then the
/// metadata is written to a temporary name and renamed, so a reader on any silo sees a whole file or none.
/// Deleting renames the metadata away first: one atomic step, which only one of two racing silos wins.
/// Temporary names start with <c>.</c>, so listings (<c>file-*.json</c>) never see them.
/// Listings and the per-tenant storage count come from an index per tenant directory (<see cref="TenantFileIndex"/>),
/// which stays correct when other silos write the same directory.
/// </summary>
public sealed partial class DirectoryFileStore(FilesOptions options, TimeProvider time) : IFileStore, IFileStaging
{
    internal const string MetadataSuffix = ".json";
    private const string ContentSuffix = ".content";
    private const int CopyBufferBytes = 81920;

    private readonly string _root = Path.GetFullPath(options.Path);
    private readonly ConcurrentDictionary<string, TenantFileIndex> _indexes = new(StringComparer.Ordinal);
    private long _lastIdMillis;

    public string Root => _root;

    /// <summary>
    /// The storage limit of a tenant in bytes, for uploads (<see cref="StageAsync"/>); <c>Relay:Files:MaxBytesPerTenant</c>
    /// unless set (the silo sets it to honour per-tenant overrides).
    /// </summary>
    public Func<string, long>? TenantLimit { get; init; }

    private long LimitOf(string tenantId) => TenantLimit?.Invoke(tenantId) ?? options.MaxBytesPerTenant;

    private DateTimeOffset Now() => time.GetUtcNow();

    /// <summary>
    /// The time for the next id: now, or a millisecond past the last id this store made, so the files of one silo
    /// list strictly in the order they were made even within a millisecond. created_at derives from it too.
    /// </summary>
    private long NextIdMillis()
    {
        var now = Now().ToUnixTimeMilliseconds();
        while (true)
        {
            var last = Volatile.Read(ref _lastIdMillis);
            var next = Math.Max(now, last + 1);
            if (Interlocked.CompareExchange(ref _lastIdMillis, next, last) == last)
            {
                return next;
            }
        }
    }

    public async Task<StoredFile> SaveAsync(string tenantId, string filename, string purpose, Stream content, long? expiresAfterSeconds, long maxBytes, CancellationToken cancellationToken)
    {
        await using var staged = await StageAsync(tenantId, content, maxBytes, storageLimit: long.MaxValue, cancellationToken);
        return await staged.CommitAsync(filename, purpose, expiresAfterSeconds, cancellationToken);
    }

    public Task<IStagedFile> StageAsync(string tenantId, Stream content, long maxBytes, CancellationToken cancellationToken) =>
        StageAsync(tenantId, content, maxBytes, LimitOf(tenantId), cancellationToken);

    /// <summary>
    /// Streams content to a staging file, holding its bytes against <paramref name="storageLimit"/> as they arrive
    /// (<see cref="StorageQuotaExceededException"/> past it, with nothing left behind). Uploads pass the tenant's
    /// limit; the relay's own outputs (batch results) pass none, since refusing them would lose finished work, and
    /// count once stored.
    /// </summary>
    private async Task<IStagedFile> StageAsync(string tenantId, Stream content, long maxBytes, long storageLimit, CancellationToken cancellationToken)
    {
        var directory = TenantDirectory(tenantId);
        var index = await IndexAsync(directory, cancellationToken); // other silos' files count too
        Directory.CreateDirectory(directory);
        var staging = Path.Combine(directory, $".{Guid.NewGuid():N}.upload");
        var hold = new StorageHold(index, storageLimit, ct => index.RefreshAsync(directory, ReadMetadataAsync, ct));
        try
        {
            var bytes = await CopyToFileAsync(content, staging, maxBytes, hold, Now, cancellationToken);
            return new StagedFile(this, tenantId, directory, staging, bytes, hold);
        }
        catch
        {
            hold.Release();
            DeleteStaging(staging);
            throw;
        }
    }

    /// <summary>
    /// Removes a staging file that was not committed. Deleting its tenant purges the tenant's folder with every upload
    /// in flight, so the folder may be gone already: then there is nothing left to remove, and an upload that ends this
    /// way (its client gets 401) is an ordinary ending, not an error.
    /// </summary>
    private static void DeleteStaging(string stagingPath)
    {
        try
        {
            File.Delete(stagingPath);
        }
        catch (DirectoryNotFoundException)
        {
            // The tenant's folder was purged with the staging file in it.
        }
    }

    /// <summary>The tenant's visible files and bytes, what uploads in progress on this silo hold, and its limit.</summary>
    public async ValueTask<FileStorageUsage> GetUsageAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        var index = await IndexAsync(TenantDirectory(tenantId), cancellationToken);
        var (files, bytes, reserved) = index.Usage(Now().ToUnixTimeSeconds());
        return new FileStorageUsage(files, bytes, reserved, LimitOf(tenantId));
    }

    private async ValueTask<TenantFileIndex> IndexAsync(string directory, CancellationToken cancellationToken)
    {
        var index = _indexes.GetOrAdd(directory, _ => new TenantFileIndex());
        await index.RefreshAsync(directory, ReadMetadataAsync, cancellationToken);
        return index;
    }

    public async ValueTask<StoredFile?> GetAsync(string tenantId, string fileId, CancellationToken cancellationToken = default)
    {
        if (!FileIds.IsValid(fileId))
        {
            return null;
        }

        var file = await ReadMetadataAsync(MetadataPath(TenantDirectory(tenantId), fileId), cancellationToken);
        return file is not null && file.Id == fileId && IsVisible(file, tenantId, Now().ToUnixTimeSeconds()) ? file : null;
    }

    public async ValueTask<Stream?> OpenReadAsync(string tenantId, string fileId, CancellationToken cancellationToken = default)
    {
        if (await GetAsync(tenantId, fileId, cancellationToken) is null)
        {
            return null;
        }

        try
        {
            // FileShare.Delete: a delete while a download is under way removes the name; the reader keeps its bytes.
            return new FileStream(ContentPath(TenantDirectory(tenantId), fileId), FileMode.Open, FileAccess.Read,
                FileShare.Read | FileShare.Delete, CopyBufferBytes, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (FileNotFoundException)
        {
            return null; // deleted between the metadata read and the open
        }
    }

    public async ValueTask<bool> DeleteAsync(string tenantId, string fileId, CancellationToken cancellationToken = default) =>
        await GetAsync(tenantId, fileId, cancellationToken) is not null && Remove(TenantDirectory(tenantId), fileId);

    public async ValueTask<FilePage> ListAsync(string tenantId, string? purpose, string? after, int limit, bool descending, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var index = await IndexAsync(TenantDirectory(tenantId), cancellationToken);
        var now = Now().ToUnixTimeSeconds();
        return index.Page(file => IsVisible(file, tenantId, now), purpose, after, limit, descending);
    }

    private static bool IsVisible(StoredFile file, string tenantId, long now) =>
        file.TenantId == tenantId && (file.ExpiresAt is not { } expiresAt || expiresAt > now);

    private string TenantDirectory(string tenantId) => Path.Combine(_root, TenantDirectoryName.Encode(tenantId));

    private static string MetadataPath(string directory, string id) => Path.Combine(directory, id + MetadataSuffix);

    private static string ContentPath(string directory, string id) => Path.Combine(directory, id + ContentSuffix);

    private long? DefaultExpiry(string purpose) =>
        purpose is "batch" or "batch_output" ? options.DefaultExpirySeconds : null;

    private static async Task<long> CopyToFileAsync(Stream content, string path, long maxBytes, StorageHold hold, Func<DateTimeOffset> now, CancellationToken cancellationToken)
    {
        await using var output = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0, FileOptions.Asynchronous);
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferBytes);
        try
        {
            long total = 0;
            int read;
            while ((read = await content.ReadAsync(buffer, cancellationToken)) > 0)
            {
                total += read;
                if (total > maxBytes)
                {
                    throw new FileTooLargeException(maxBytes);
                }

                await hold.RefreshIfDueAsync(cancellationToken);
                if (!hold.TryAdd(read, now().ToUnixTimeSeconds()))
                {
                    throw new StorageQuotaExceededException(hold.Limit);
                }

                await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            }

            return total;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async ValueTask<StoredFile?> ReadMetadataAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            var json = await File.ReadAllBytesAsync(path, cancellationToken);
            return JsonSerializer.Deserialize(json, FileStoreJsonContext.Default.StoredFile);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null; // no such file, or deleted meanwhile
        }
        catch (JsonException)
        {
            return null; // torn by a power loss before the volume wrote it back: as good as absent (the sweeper removes it)
        }
    }

    private static async Task WriteMetadataAsync(string directory, StoredFile file, CancellationToken cancellationToken)
    {
        var temporary = Path.Combine(directory, $".{file.Id}.{Guid.NewGuid():N}.json.tmp");
        try
        {
            await File.WriteAllBytesAsync(temporary, JsonSerializer.SerializeToUtf8Bytes(file, FileStoreJsonContext.Default.StoredFile), cancellationToken);
            File.Move(temporary, MetadataPath(directory, file.Id), overwrite: true); // rename(2): atomic on a POSIX volume
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    /// <summary>Deletes a file; false when it was gone already (another silo or request won the race).</summary>
    private bool Remove(string directory, string id)
    {
        var tombstone = Path.Combine(directory, $".{id}.{Guid.NewGuid():N}.deleted");
        try
        {
            // overwrite: true makes File.Move a plain rename(2), atomic even between silos; without it .NET links and unlinks.
            File.Move(MetadataPath(directory, id), tombstone, overwrite: true);
        }
        catch (FileNotFoundException)
        {
            return false;
        }

        if (_indexes.TryGetValue(directory, out var index))
        {
            index.Remove(id);
        }

        File.Delete(ContentPath(directory, id));
        File.Delete(tombstone);
        return true;
    }

    /// <summary>Content on its staging name until committed; disposing it uncommitted removes it.</summary>
    private sealed class StagedFile(DirectoryFileStore store, string tenantId, string directory, string stagingPath, long bytes, StorageHold hold) : IStagedFile
    {
        private bool _committed;

        public long Bytes => bytes;

        public async Task<StoredFile> CommitAsync(string filename, string purpose, long? expiresAfterSeconds, CancellationToken cancellationToken)
        {
            if (_committed)
            {
                throw new InvalidOperationException("This staged file was committed already.");
            }

            // The id and created_at come from one time, taken at commit, so id order is (created_at, id) order.
            var millis = store.NextIdMillis();
            var id = FileIds.New(millis);
            var createdAt = millis / 1000;
            var expiresAfter = expiresAfterSeconds ?? store.DefaultExpiry(purpose);
            var file = new StoredFile(id, tenantId, filename, purpose, bytes, createdAt, createdAt + expiresAfter);
            var content = ContentPath(directory, id);
            File.Move(stagingPath, content, overwrite: true);
            _committed = true;
            try
            {
                await WriteMetadataAsync(directory, file, cancellationToken);
            }
            catch
            {
                File.Delete(content);
                hold.Release();
                throw;
            }

            hold.Commit(file);
            return file;
        }

        public ValueTask DisposeAsync()
        {
            if (!_committed)
            {
                hold.Release();
                DeleteStaging(stagingPath);
            }

            return ValueTask.CompletedTask;
        }
    }
}

[JsonSerializable(typeof(StoredFile))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
internal sealed partial class FileStoreJsonContext : JsonSerializerContext;
