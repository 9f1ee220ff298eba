using System.Buffers;
using System.Text.Json;
using RelayCluster.Core.Batches;

namespace RelayCluster.Silo.Batches;

/// <summary>OpenAI's Batch object, field for field (null where a timestamp or file is not reached yet).</summary>
internal static class BatchJson
{
    public static byte[] Serialize(BatchState b)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            Write(w, b);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// A page of batches as OpenAI lists them (<c>first_id</c>, <c>last_id</c>, <c>has_more</c>); an admin's view also
    /// names the <paramref name="tenant"/>.
    /// </summary>
    public static byte[] SerializePage(BatchPage page, string? tenant = null)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            if (tenant is not null)
            {
                w.WriteString("tenant", tenant);
            }

            w.WriteStartArray("data");
            foreach (var batch in page.Batches)
            {
                Write(w, batch);
            }

            w.WriteEndArray();
            w.WriteString("first_id", page.Batches.Count > 0 ? page.Batches[0].Id : null);
            w.WriteString("last_id", page.Batches.Count > 0 ? page.Batches[^1].Id : null);
            w.WriteBoolean("has_more", page.HasMore);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static void Write(Utf8JsonWriter w, BatchState b)
    {
        w.WriteStartObject();
        w.WriteString("id", b.Id);
        w.WriteString("object", "batch");
        w.WriteString("endpoint", b.Endpoint);
        w.WritePropertyName("errors");
        if (b.ErrorsJson is null)
        {
            w.WriteNullValue();
        }
        else
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WritePropertyName("data");
            w.WriteRawValue(b.ErrorsJson);
            w.WriteEndObject();
        }

        w.WriteString("input_file_id", b.InputFileId);
        w.WriteString("completion_window", b.CompletionWindow);
        w.WriteString("status", b.Status);
        w.WriteString("output_file_id", b.OutputFileId);
        w.WriteString("error_file_id", b.ErrorFileId);
        w.WriteNumber("created_at", b.CreatedAt);
        Time(w, "in_progress_at", b.InProgressAt);
        w.WriteNumber("expires_at", b.ExpiresAt);
        Time(w, "finalizing_at", b.Status is BatchStatus.Cancelling or BatchStatus.Cancelled ? null : b.FinalizingAt);
        Time(w, "completed_at", b.CompletedAt);
        Time(w, "failed_at", b.FailedAt);
        Time(w, "expired_at", b.ExpiredAt);
        Time(w, "cancelling_at", b.CancellingAt);
        Time(w, "cancelled_at", b.CancelledAt);
        w.WriteStartObject("request_counts");
        w.WriteNumber("total", b.Total);
        w.WriteNumber("completed", b.Completed);
        w.WriteNumber("failed", b.Failed);
        w.WriteEndObject();
        w.WriteString("model", b.Model);
        w.WriteStartObject("usage");
        w.WriteNumber("input_tokens", b.InputTokens);
        w.WriteStartObject("input_tokens_details");
        w.WriteNumber("cached_tokens", b.CachedTokens);
        w.WriteEndObject();
        w.WriteNumber("output_tokens", b.OutputTokens);
        w.WriteStartObject("output_tokens_details");
        w.WriteNumber("reasoning_tokens", b.ReasoningTokens);
        w.WriteEndObject();
        w.WriteNumber("total_tokens", b.InputTokens + b.OutputTokens);
        w.WriteEndObject();
        w.WritePropertyName("metadata");
        if (b.MetadataJson is null)
        {
            w.WriteNullValue();
        }
        else
        {
            w.WriteRawValue(b.MetadataJson);
        }

        w.WriteEndObject();
    }

    private static void Time(Utf8JsonWriter w, string name, long? value)
    {
        if (value is { } seconds)
        {
            w.WriteNumber(name, seconds);
        }
        else
        {
            w.WriteNull(name);
        }
    }
}
