using System.Globalization;
using System.Text;

namespace RelayCluster.Silo.Batches;

/// <summary>
/// Where a running batch keeps its result lines: one part file per chunk and lease
/// (<c>{work}/{tenant}/{batch}/chunk-000012.{lease}.part</c>), each line prefixed with its item number. A lease
/// that is taken over leaves its part behind; assembly keeps only the lines the batch grain says each item's
/// owner wrote, so nothing is lost or duplicated.
/// </summary>
internal sealed class PartFiles(string workPath)
{
    public string BatchDirectory(string tenantId, string batchId) =>
        Path.Combine(workPath, Convert.ToHexStringLower(Encoding.UTF8.GetBytes(tenantId)), batchId);

    public PartWriter Open(string tenantId, string batchId, int chunk, string leaseId)
    {
        var directory = BatchDirectory(tenantId, batchId);
        Directory.CreateDirectory(directory);
        return new PartWriter(Path.Combine(directory, $"{ChunkPrefix(chunk)}{leaseId}.part"));
    }

    /// <summary>The part files of a chunk, each with the lease that wrote it.</summary>
    public IEnumerable<(string Path, string Owner)> PartsOf(string tenantId, string batchId, int chunk)
    {
        var directory = BatchDirectory(tenantId, batchId);
        if (!Directory.Exists(directory))
        {
            yield break;
        }

        var prefix = ChunkPrefix(chunk);
        foreach (var path in Directory.EnumerateFiles(directory, prefix + "*.part"))
        {
            var name = Path.GetFileName(path);
            yield return (path, name[prefix.Length..^".part".Length]);
        }
    }

    public void Delete(string tenantId, string batchId)
    {
        var directory = BatchDirectory(tenantId, batchId);
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Splits a part line into its item number and the output line.</summary>
    public static (int Item, ReadOnlyMemory<byte> Line) Parse(ReadOnlyMemory<byte> partLine)
    {
        var tab = partLine.Span.IndexOf((byte)'\t');
        return (int.Parse(partLine.Span[..tab], CultureInfo.InvariantCulture), partLine[(tab + 1)..]);
    }

    private static string ChunkPrefix(int chunk) => $"chunk-{chunk.ToString("D6", CultureInfo.InvariantCulture)}.";
}

/// <summary>Appends item lines to one part file; each line is handed to the OS before the item's end is recorded.</summary>
internal sealed class PartWriter(string path) : IAsyncDisposable
{
    private readonly FileStream _file = new(path, FileMode.Append, FileAccess.Write, FileShare.Read, 16 * 1024, useAsync: true);
    private readonly SemaphoreSlim _lock = new(1, 1);

    public async Task AppendAsync(int item, byte[] line)
    {
        var prefix = Encoding.ASCII.GetBytes(item.ToString(CultureInfo.InvariantCulture) + "\t");
        await _lock.WaitAsync();
        try
        {
            await _file.WriteAsync(prefix);
            await _file.WriteAsync(line);
            await _file.WriteAsync("\n"u8.ToArray());
            await _file.FlushAsync();
        }
        finally
        {
            _lock.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _file.DisposeAsync();
        _lock.Dispose();
    }
}
