using System.Globalization;
using StackExchange.Redis;
using RelayCluster.Core.Batches;

namespace RelayCluster.Redis;

/// <summary>A batch hash (field names as in OpenAI's Batch object) read back into a <see cref="BatchState"/>.</summary>
internal static class RedisBatchFields
{
    public static BatchState? Read(HashEntry[] entries) =>
        entries.Length == 0 ? null : Read(entries.ToDictionary(e => (string)e.Name!, e => (string)e.Value!, StringComparer.Ordinal));

    public static BatchState? Read(RedisResult[] pairs) => RedisHashReply.Read(pairs) is { Count: > 0 } fields ? Read(fields) : null;

    private static BatchState Read(Dictionary<string, string> f) => new()
    {
        Id = f["id"],
        TenantId = f["tenant"],
        Endpoint = f["endpoint"],
        InputFileId = f["input_file_id"],
        Status = f["status"],
        CreatedAt = Long(f, "created_at") ?? 0,
        ExpiresAt = Long(f, "expires_at") ?? 0,
        InProgressAt = Long(f, "in_progress_at"),
        FinalizingAt = Long(f, "finalizing_at"),
        CompletedAt = Long(f, "completed_at"),
        FailedAt = Long(f, "failed_at"),
        ExpiredAt = Long(f, "expired_at"),
        CancellingAt = Long(f, "cancelling_at"),
        CancelledAt = Long(f, "cancelled_at"),
        Total = Long(f, "total") ?? 0,
        Completed = Long(f, "completed") ?? 0,
        Failed = Long(f, "failed") ?? 0,
        ExpiredItems = Long(f, "expired_items") ?? 0,
        OutputFileId = f.GetValueOrDefault("output_file_id"),
        ErrorFileId = f.GetValueOrDefault("error_file_id"),
        ErrorsJson = f.GetValueOrDefault("errors"),
        MetadataJson = f.GetValueOrDefault("metadata"),
        Model = f.GetValueOrDefault("model"),
        InputTokens = Long(f, "input_tokens") ?? 0,
        OutputTokens = Long(f, "output_tokens") ?? 0,
        Chunks = (int)(Long(f, "chunks") ?? 0),
    };

    private static long? Long(Dictionary<string, string> f, string name) =>
        f.TryGetValue(name, out var value) ? long.Parse(value, CultureInfo.InvariantCulture) : null;
}
