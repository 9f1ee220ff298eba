using System.IO.Pipelines;
using RelayCluster.Core.Batches;
using RelayCluster.Core.Files;

namespace RelayCluster.Silo.Batches;

/// <summary>
/// The finalize task: assembles the output and error files from the part files, keeping for each item only
/// the line its recorded owner wrote, and gives the batch its final status. Lines stream from the parts into
/// the file store; no file is ever held whole. A file is made only when it has lines (as OpenAI does).
/// </summary>
internal sealed class BatchFinalizer(IBatchStore store, IFileStore files, PartFiles parts, TimeProvider time)
{
    public async Task RunAsync(BatchState batch, CancellationToken stopping)
    {
        if (!BatchOutcome.AwaitsFinish(batch))
        {
            return;
        }

        var output = batch.Completed > 0 ? await AssembleAsync(batch, ItemOutcome.Succeeded, "output", stopping) : null;
        var errors = batch.Failed > 0 ? await AssembleAsync(batch, ItemOutcome.Failed, "error", stopping) : null;
        if (!await store.FinishAsync(batch.TenantId, batch.Id, output?.Id, errors?.Id, time.GetUtcNow().ToUnixTimeSeconds()))
        {
            // Another worker finished it first (this one's lease was taken over): its files stand, not these.
            foreach (var file in new[] { output, errors })
            {
                if (file is not null)
                {
                    await files.DeleteAsync(batch.TenantId, file.Id, stopping);
                }
            }

            return;
        }

        parts.Delete(batch.TenantId, batch.Id);
    }

    private async Task<StoredFile> AssembleAsync(BatchState batch, ItemOutcome outcome, string name, CancellationToken stopping)
    {
        var pipe = new Pipe();
        var writing = WriteLinesAsync(batch, outcome, pipe.Writer, stopping);
        StoredFile file;
        await using (var content = pipe.Reader.AsStream())
        {
            file = await files.SaveAsync(batch.TenantId, $"{batch.Id}_{name}.jsonl", "batch_output", content, null, long.MaxValue, stopping);
        }

        await writing;
        return file;
    }

    private async Task WriteLinesAsync(BatchState batch, ItemOutcome outcome, PipeWriter writer, CancellationToken stopping)
    {
        try
        {
            for (var chunk = 0; chunk < batch.Chunks; chunk++)
            {
                if (await store.GetChunkAsync(batch.TenantId, batch.Id, chunk) is not { } range)
                {
                    continue;
                }

                var ended = await store.EndedItemsAsync(batch.TenantId, batch.Id, range.FirstLine, range.Count);
                foreach (var (path, owner) in parts.PartsOf(batch.TenantId, batch.Id, chunk))
                {
                    using var reader = new JsonlReader(File.OpenRead(path));
                    while (await reader.ReadLineAsync(long.MaxValue, stopping) is { } next)
                    {
                        if (next.Line.IsEmpty)
                        {
                            continue;
                        }

                        var (item, line) = PartFiles.Parse(next.Line);
                        if (ended.TryGetValue(item, out var end) && end.Owner == owner && end.Outcome == outcome)
                        {
                            await writer.WriteAsync(line, stopping);
                            await writer.WriteAsync("\n"u8.ToArray(), stopping);
                        }
                    }
                }
            }

            await writer.CompleteAsync();
        }
        catch (Exception ex)
        {
            await writer.CompleteAsync(ex);
            throw;
        }
    }
}
