using System.Text.Json.Serialization;
using RelayCluster.Core.Files;
using RelayCluster.Core.Wire;

namespace RelayCluster.Silo.Api;

/// <summary>OpenAI's <c>OpenAIFile</c>. <c>status</c> and <c>status_details</c> are deprecated but still required.</summary>
public sealed record FileObject(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("bytes")] long Bytes,
    [property: JsonPropertyName("created_at")] long CreatedAt,
    [property: JsonPropertyName("expires_at")] long? ExpiresAt,
    [property: JsonPropertyName("filename")] string Filename,
    [property: JsonPropertyName("purpose")] string Purpose,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("status_details")] string? StatusDetails)
{
    // Stored files are whole once visible, so every one is "processed".
    public static FileObject From(StoredFile file) =>
        new(file.Id, "file", file.Bytes, file.CreatedAt, file.ExpiresAt, file.Filename, file.Purpose, "processed", null);
}

public sealed record FileList(
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("data")] IReadOnlyList<FileObject> Data,
    [property: JsonPropertyName("first_id")] string? FirstId,
    [property: JsonPropertyName("last_id")] string? LastId,
    [property: JsonPropertyName("has_more")] bool HasMore);

public sealed record FileDeleted(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("deleted")] bool Deleted);

/// <summary>The Files API's own errors, worded as OpenAI words them.</summary>
internal static class FileErrors
{
    public static RelayError NotFound(string id) => new(404, new OpenAiError(
        $"No such File object: {id}", "invalid_request_error", "id", null), ShouldRetry: false);

    public static RelayError TooLarge(long limit) => new(413, new OpenAiError(
        $"File is too large: the limit is {limit} bytes.", "invalid_request_error", "file", "file_too_large"), ShouldRetry: false);

    public static RelayError StorageQuotaExceeded(long limit) => new(413, new OpenAiError(
        $"File storage quota exceeded: this upload would take the organization's files past its limit of {limit} bytes. Delete files you no longer need and try again.",
        "invalid_request_error", "file", "storage_quota_exceeded"), ShouldRetry: false);

    public static RelayError NotMultipart() => RelayError.BadRequest(
        "Invalid Content-Type header: expected multipart/form-data with a boundary.", null, null);

    public static RelayError BadMultipart(string why) => RelayError.BadRequest(
        $"The multipart/form-data body could not be read: {why}", null, null);

    public static RelayError NotJsonl() => RelayError.BadRequest(
        "Invalid file format for Batch API. Must be .jsonl", "file", null);
}
