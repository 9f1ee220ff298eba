using System.Globalization;
using System.Text;

namespace RelayCluster.Silo.Batches;

/// <summary>
/// Where a running batch keeps its files, under <c>{work}/{tenant hex}/{batch}/</c> (a shared volume in a cluster):
/// <list type="bullet">
/// <item><c>input.jsonl</c>: the batch's copy of its input file, taken by validation; the chunks read it.</item>
/// <item><c>plan.bin</c>: the chunks' boundaries, written by validation (16 bytes a chunk: first item, count, byte offset).</item>
/// <item><c>chunk-000012.{owner}.part</c>: the result lines of one activation of a chunk grain, each prefixed with its item
/// number. A chunk revived on another silo writes a part of its own; only the line of each item's recorded owner counts.</item>
/// <item><c>chunk-000012.output</c> / <c>.errors</c>: a finished chunk's result lines, exactly one per item, in the order
/// they ended. Finalization concatenates them in chunk order.</item>
/// </list>
/// </summary>
internal sealed class PartFiles(string workPath)
{
    public string BatchDirectory(string tenantId, string batchId) =>
        Path.Combine(workPath, Convert.ToHexStringLower(Encoding.UTF8.GetBytes(tenantId)), batchId);

    public PartWriter Open(string tenantId, string batchId, int chunk, string owner)
    {
        var directory = BatchDirectory(tenantId, batchId);
        Directory.CreateDirectory(directory);
        return new PartWriter(Path.Combine(directory, $"{ChunkPrefix(chunk)}{owner}.part"));
    }

    private const int PlanEntryBytes = 16;

    /// <summary>Writes the chunks' boundaries (replacing a plan a previous validation left), before validation is committed.</summary>
    public async Task WritePlanAsync(string tenantId, string batchId, IReadOnlyList<Core.Batches.BatchChunk> chunks, CancellationToken cancellationToken)
    {
        var directory = BatchDirectory(tenantId, batchId);
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "plan.bin");
        var temporary = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, useAsync: true))
        {
            var entry = new byte[PlanEntryBytes];
            foreach (var chunk in chunks)
            {
                System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(entry, chunk.FirstLine);
                System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(entry.AsSpan(4), chunk.Count);
                System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(entry.AsSpan(8), chunk.Offset);
                await file.WriteAsync(entry, cancellationToken);
            }

            await file.FlushAsync(cancellationToken);
        }

        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>The batch's own copy of its input file, which its chunks read: deleting the input file mid-run cannot cut it short.</summary>
    public string InputPath(string tenantId, string batchId) => Path.Combine(BatchDirectory(tenantId, batchId), "input.jsonl");

    /// <summary>Copies the input into the batch's work directory (replacing a copy a previous validation left), before validation is committed.</summary>
    public async Task CopyInputAsync(string tenantId, string batchId, Stream content, CancellationToken cancellationToken)
    {
        var path = InputPath(tenantId, batchId);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, useAsync: true))
        {
            await content.CopyToAsync(file, cancellationToken);
        }

        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>The boundaries of one chunk from the plan, or null if the plan is gone (the batch was purged).</summary>
    public Core.Batches.BatchChunk? ReadPlan(string tenantId, string batchId, int chunk)
    {
        var path = Path.Combine(BatchDirectory(tenantId, batchId), "plan.bin");
        if (!File.Exists(path))
        {
            return null;
        }

        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        Span<byte> entry = stackalloc byte[PlanEntryBytes];
        file.Seek((long)chunk * PlanEntryBytes, SeekOrigin.Begin);
        if (file.ReadAtLeast(entry, PlanEntryBytes, throwOnEndOfStream: false) < PlanEntryBytes)
        {
            return null;
        }

        return new Core.Batches.BatchChunk(chunk, System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(entry),
            System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(entry[4..]), System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(entry[8..]));
    }

    /// <summary>A finished chunk's result file for one outcome (it may not exist: no item ended that way).</summary>
    public string ResultPath(string tenantId, string batchId, int chunk, Core.Batches.ItemOutcome outcome) =>
        Path.Combine(BatchDirectory(tenantId, batchId), ChunkPrefix(chunk) + (outcome == Core.Batches.ItemOutcome.Succeeded ? "output" : "errors"));

    /// <summary>
    /// Writes a chunk's result files from its parts, keeping each line whose item names that part's owner (and
    /// <paramref name="outcomeOf"/> says how it ended); a file is replaced whole, so compacting again is harmless.
    /// </summary>
    public async Task CompactAsync(string tenantId, string batchId, int chunk, Func<int, string, Core.Batches.ItemOutcome?> outcomeOf, CancellationToken cancellationToken)
    {
        var directory = BatchDirectory(tenantId, batchId);
        Directory.CreateDirectory(directory);
        var stamp = "." + Guid.NewGuid().ToString("N") + ".tmp";
        var outputPath = ResultPath(tenantId, batchId, chunk, Core.Batches.ItemOutcome.Succeeded);
        var errorsPath = ResultPath(tenantId, batchId, chunk, Core.Batches.ItemOutcome.Failed);
        var written = (Output: 0, Errors: 0);
        await using (var output = new FileStream(outputPath + stamp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, useAsync: true))
        await using (var errors = new FileStream(errorsPath + stamp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, useAsync: true))
        {
            foreach (var (path, owner) in PartsOf(tenantId, batchId, chunk))
            {
                using var reader = new Core.Batches.JsonlReader(File.OpenRead(path));
                while (await reader.ReadLineAsync(long.MaxValue, cancellationToken) is { } next)
                {
                    if (next.Line.IsEmpty)
                    {
                        continue;
                    }

                    var (item, line) = Parse(next.Line);
                    if (outcomeOf(item, owner) is not { } outcome)
                    {
                        continue; // a line of an activation whose end did not count
                    }

                    var target = outcome == Core.Batches.ItemOutcome.Succeeded ? output : errors;
                    await target.WriteAsync(line, cancellationToken);
                    target.WriteByte((byte)'\n');
                    written = outcome == Core.Batches.ItemOutcome.Succeeded ? (written.Output + 1, written.Errors) : (written.Output, written.Errors + 1);
                }
            }

            await output.FlushAsync(cancellationToken);
            await errors.FlushAsync(cancellationToken);
        }

        Publish(outputPath, stamp, written.Output);
        Publish(errorsPath, stamp, written.Errors);
    }

    /// <summary>Deletes a finished chunk's part files (its result files hold what counted).</summary>
    public void DeleteParts(string tenantId, string batchId, int chunk)
    {
        foreach (var (path, _) in PartsOf(tenantId, batchId, chunk).ToList())
        {
            File.Delete(path);
        }
    }

    private static void Publish(string path, string stamp, int lines)
    {
        if (lines > 0)
        {
            File.Move(path + stamp, path, overwrite: true);
        }
        else
        {
            File.Delete(path + stamp);
            File.Delete(path);
        }
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
        if (tab <= 0)
        {
            throw new InvalidDataException("A part file line has no item number: a result line spanned several lines.");
        }

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
