using System.IO.Pipelines;
using RelayCluster.Core.Batches;
using RelayCluster.Core.Files;

namespace RelayCluster.Silo.Batches;

/// <summary>
/// The finalization job: the output and error files are the chunks' result files concatenated in chunk order (each
/// holds exactly one line per item that ended that way), streamed into the file store; no file is ever held whole. A
/// file is made only when it has lines (as OpenAI does).
/// </summary>
internal sealed class BatchFinalizer(IFileStore files, PartFiles parts)
{
    public async Task<BatchJobResult> RunAsync(string job, BatchState batch, CancellationToken stopping)
    {
        // By the chunks' result files, which hold exactly the lines the counts count.
        var output = HasResults(batch, ItemOutcome.Succeeded) ? await AssembleAsync(batch, ItemOutcome.Succeeded, "output", stopping) : null;
        var errors = HasResults(batch, ItemOutcome.Failed) ? await AssembleAsync(batch, ItemOutcome.Failed, "error", stopping) : null;
        return new BatchJobResult(job, BatchJobKind.Finalize, OutputFileId: output?.Id, ErrorFileId: errors?.Id);
    }

    private bool HasResults(BatchState batch, ItemOutcome outcome) =>
        Enumerable.Range(0, batch.Chunks).Any(chunk => File.Exists(parts.ResultPath(batch.TenantId, batch.Id, chunk, outcome)));

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
            await using (var target = writer.AsStream(leaveOpen: true))
            {
                for (var chunk = 0; chunk < batch.Chunks; chunk++)
                {
                    var path = parts.ResultPath(batch.TenantId, batch.Id, chunk, outcome);
                    if (File.Exists(path))
                    {
                        await using var source = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, useAsync: true);
                        await source.CopyToAsync(target, stopping);
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

/// <summary>Runs a batch grain's jobs off its turn; a job never throws: its failure is in the result.</summary>
internal sealed class BatchJobs(BatchValidation validation, BatchFinalizer finalizer, IFileStore files, IHostApplicationLifetime lifetime)
{
    public async Task<BatchJobResult> RunAsync(BatchJobKind kind, string job, BatchState batch)
    {
        try
        {
            return kind == BatchJobKind.Validate
                ? await validation.RunAsync(job, batch, lifetime.ApplicationStopping)
                : await finalizer.RunAsync(job, batch, lifetime.ApplicationStopping);
        }
        catch (Exception ex)
        {
            return new BatchJobResult(job, kind, Failure: ex.Message);
        }
    }

    /// <summary>Deletes what a result the batch did not take made (a finalization's files).</summary>
    public async Task DiscardAsync(BatchState? batch, BatchJobResult result)
    {
        if (batch is null)
        {
            return;
        }

        foreach (var id in new[] { result.OutputFileId, result.ErrorFileId })
        {
            if (id is not null && id != batch.OutputFileId && id != batch.ErrorFileId) // a result delivered twice made the batch's own files
            {
                await files.DeleteAsync(batch.TenantId, id, CancellationToken.None);
            }
        }
    }
}
