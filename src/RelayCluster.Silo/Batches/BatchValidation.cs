using System.Text.Json;
using RelayCluster.Core.Batches;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Files;

namespace RelayCluster.Silo.Batches;

/// <summary>The validate task: checks the input file and starts the batch with its chunks, or fails it with per-line errors.</summary>
internal sealed class BatchValidation(IBatchStore store, IFileStore files, RelayOptions options, TimeProvider time)
{
    public async Task RunAsync(BatchState batch, CancellationToken stopping)
    {
        if (batch.InProgressAt is not null || BatchStatus.IsFinal(batch.Status))
        {
            return; // validated already (a takeover of a finished validation)
        }

        var now = time.GetUtcNow().ToUnixTimeSeconds();
        await using var input = await files.OpenReadAsync(batch.TenantId, batch.InputFileId, stopping);
        if (input is null)
        {
            await store.FailValidationAsync(batch.TenantId, batch.Id,
                Errors([new("invalid_file", $"The input file {batch.InputFileId} no longer exists.", "input_file_id", null)]), now);
            return;
        }

        var (valid, errors) = await BatchValidator.ValidateAsync(
            input, batch.Endpoint, options.Batches.ChunkSize, options.Batches.MaxRequests, options.Requests.MaxBodyBytes, stopping);
        now = time.GetUtcNow().ToUnixTimeSeconds();
        if (valid is null)
        {
            await store.FailValidationAsync(batch.TenantId, batch.Id, Errors(errors), now);
            return;
        }

        await store.StartAsync(batch.TenantId, batch.Id, valid.Model, valid.Chunks, valid.Total, now);
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
