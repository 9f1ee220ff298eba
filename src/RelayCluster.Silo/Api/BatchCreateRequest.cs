using System.Text.Json;
using RelayCluster.Core.Batches;
using RelayCluster.Core.Wire;

namespace RelayCluster.Silo.Api;

/// <summary>The body of <c>POST /v1/batches</c>, checked as OpenAI checks it (metadata: up to 16 string pairs, keys ≤ 64, values ≤ 512).</summary>
internal sealed record BatchCreateRequest(string InputFileId, string Endpoint, string? MetadataJson)
{
    public static (BatchCreateRequest? Request, RelayError? Error) Parse(ReadOnlyMemory<byte> body)
    {
        var (document, invalid) = JsonBody.ParseObject(body);
        if (document is null)
        {
            return (null, invalid);
        }

        using (document)
        {
            var root = document.RootElement;
            if (String(root, "input_file_id") is not { } fileId)
            {
                return (null, Missing(root, "input_file_id"));
            }

            if (String(root, "endpoint") is not { } endpoint)
            {
                return (null, Missing(root, "endpoint"));
            }

            if (BatchValidator.OperationOf(endpoint) is null)
            {
                return (null, RelayError.InvalidValue("endpoint",
                    $"'{endpoint}' cannot be batched here; supported values are '/v1/chat/completions' and '/v1/embeddings'."));
            }

            if (String(root, "completion_window") is not { } window)
            {
                return (null, Missing(root, "completion_window"));
            }

            if (window != "24h")
            {
                return (null, RelayError.InvalidValue("completion_window", $"expected '24h', but got '{window}' instead."));
            }

            string? metadata = null;
            if (root.TryGetProperty("metadata", out var meta) && meta.ValueKind != JsonValueKind.Null)
            {
                if (CheckMetadata(meta) is { } metadataError)
                {
                    return (null, metadataError);
                }

                metadata = meta.GetRawText();
            }

            return (new BatchCreateRequest(fileId, endpoint, metadata), null);
        }
    }

    private static RelayError? CheckMetadata(JsonElement meta)
    {
        if (meta.ValueKind != JsonValueKind.Object)
        {
            return RelayError.InvalidType("metadata", "an object", meta.ValueKind.ToString().ToLowerInvariant());
        }

        var pairs = 0;
        foreach (var pair in meta.EnumerateObject())
        {
            if (++pairs > 16)
            {
                return RelayError.InvalidValue("metadata", "at most 16 key-value pairs are allowed.");
            }

            if (pair.Name.Length > 64)
            {
                return RelayError.InvalidValue("metadata", $"keys may be at most 64 characters; '{pair.Name[..16]}…' is longer.");
            }

            if (pair.Value.ValueKind != JsonValueKind.String || pair.Value.GetString()!.Length > 512)
            {
                return RelayError.InvalidValue("metadata", $"the value of '{pair.Name}' must be a string of at most 512 characters.");
            }
        }

        return null;
    }

    private static string? String(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static RelayError Missing(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
            ? RelayError.InvalidType(name, "a string", value.ValueKind.ToString().ToLowerInvariant())
            : RelayError.MissingParameter(name);
}
