using System.Text.Json;
using RelayCluster.Core.Batches;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Files;

namespace RelayCluster.Silo.Batches;

/// <summary>
/// The validation job: checks the input file a line at a time (<see cref="BatchValidator"/>), and for a valid file
/// copies it into the batch's work directory and writes the chunks' plan before the batch grain is told, so every chunk
/// the grain dispatches has its lines and boundaries.
/// </summary>
internal sealed class BatchValidation(IFileStore files, PartFiles parts, RelayOptions options)
{
    public async Task<BatchJobResult> RunAsync(string job, BatchState batch, CancellationToken stopping)
    {
        await using var input = await files.OpenReadAsync(batch.TenantId, batch.InputFileId, stopping);
        if (input is null)
        {
            return new BatchJobResult(job, BatchJobKind.Validate,
                ErrorsJson: Errors([new("invalid_file", $"The input file {batch.InputFileId} no longer exists.", "input_file_id", null)]));
        }

        var (valid, errors) = await BatchValidator.ValidateAsync(
            input, batch.Endpoint, options.Batches.ChunkSize, options.Batches.MaxRequests, options.Requests.MaxBodyBytes, stopping);
        if (valid is null)
        {
            return new BatchJobResult(job, BatchJobKind.Validate, ErrorsJson: Errors(errors));
        }

        // The batch's own copy of what was validated: the chunks read it, so a delete of the input file (or a re-upload
        // under another id) cannot change or cut short a batch that has started.
        await using (var copy = await files.OpenReadAsync(batch.TenantId, batch.InputFileId, stopping))
        {
            if (copy is null)
            {
                return new BatchJobResult(job, BatchJobKind.Validate,
                    ErrorsJson: Errors([new("invalid_file", $"The input file {batch.InputFileId} no longer exists.", "input_file_id", null)]));
            }

            await parts.CopyInputAsync(batch.TenantId, batch.Id, copy, stopping);
        }

        await parts.WritePlanAsync(batch.TenantId, batch.Id, valid.Chunks, stopping);
        return new BatchJobResult(job, BatchJobKind.Validate, Total: valid.Total, Chunks: valid.Chunks.Count, Model: valid.Model);
    }

    /// <summary>OpenAI's BatchError objects as a JSON array.</summary>
    public static string Errors(IReadOnlyList<BatchLineError> errors)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            foreach (var error in errors)
            {
                writer.WriteStartObject();
                writer.WriteString("code", error.Code);
                writer.WriteString("message", error.Message);
                writer.WriteString("param", error.Param);
                if (error.Line is { } line)
                {
                    writer.WriteNumber("line", line);
                }
                else
                {
                    writer.WriteNull("line");
                }

                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
