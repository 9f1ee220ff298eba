using System.Text.Json;
using RelayCluster.Core.Wire;

namespace RelayCluster.Core.Batches;

/// <summary>One reason an input file was refused, as OpenAI's BatchError (line numbers from 1).</summary>
public sealed record BatchLineError(string Code, string Message, string? Param, int? Line);

/// <summary>A valid input file: its items, their chunks, and the model, if all items name the same one.</summary>
public sealed record ValidatedInput(int Total, IReadOnlyList<BatchChunk> Chunks, string? Model);

/// <summary>
/// Checks a batch input file before anything runs: every line is a JSON object with a unique
/// <c>custom_id</c>, <c>method</c> POST, the batch's <c>url</c>, and a body the endpoint accepts. It reads the
/// file once, a line at a time, and splits it into chunks as it goes. A bad file fails the batch with
/// per-line errors (the first <see cref="MaxErrors"/>), before any upstream call.
/// </summary>
public static class BatchValidator
{
    public const int MaxErrors = 100;

    public static RelayOperation? OperationOf(string endpoint) => endpoint switch
    {
        "/v1/chat/completions" => RelayOperation.ChatCompletions,
        "/v1/embeddings" => RelayOperation.Embeddings,
        _ => null,
    };

    /// <summary>
    /// A custom_id's first 128 bits of SHA-256: two different ids of a 200,000-line file collide with a probability of
    /// about 10^-28, so the set of digests stands in for the set of ids at 16 bytes an item.
    /// </summary>
    private static UInt128 Digest(string customId)
    {
        Span<byte> hash = stackalloc byte[32];
        System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(customId), hash);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(hash);
    }

    public static async Task<(ValidatedInput? Input, IReadOnlyList<BatchLineError> Errors)> ValidateAsync(
        Stream content, string endpoint, int chunkSize, int maxRequests, long maxLineBytes, CancellationToken cancellationToken)
    {
        var operation = OperationOf(endpoint) ?? throw new ArgumentException($"Unsupported endpoint {endpoint}.", nameof(endpoint));
        var errors = new List<BatchLineError>();
        var customIds = new HashSet<UInt128>(); // digests, not the ids: memory stays 16 bytes an item however long the ids
        var chunks = new List<BatchChunk>();
        string? model = null;
        var mixedModels = false;
        var items = 0;
        var lineNumber = 0;
        using var reader = new JsonlReader(content);
        while (await ReadAsync(reader, maxLineBytes, lineNumber + 1, errors, cancellationToken) is { } next)
        {
            lineNumber++;
            var (line, offset) = next;
            if (line.IsEmpty)
            {
                continue; // a blank line (commonly the last) is not a request
            }

            if (items % chunkSize == 0)
            {
                chunks.Add(new BatchChunk(chunks.Count, items, 0, offset));
            }

            chunks[^1] = chunks[^1] with { Count = chunks[^1].Count + 1 };
            items++;
            if (items > maxRequests)
            {
                errors.Add(new("too_many_requests", $"The input file has more than {maxRequests} requests.", null, lineNumber));
                break;
            }

            var (error, itemModel) = Check(line.Span, lineNumber, endpoint, operation, customIds);
            if (error is not null)
            {
                if (errors.Count < MaxErrors)
                {
                    errors.Add(error);
                }

                continue;
            }

            mixedModels |= model is not null && model != itemModel;
            model ??= itemModel;
        }

        if (items == 0 && errors.Count == 0)
        {
            errors.Add(new("empty_file", "The input file has no requests.", null, null));
        }

        return errors.Count > 0 ? (null, errors) : (new ValidatedInput(items, chunks, mixedModels ? null : model), errors);
    }

    private static async Task<(ReadOnlyMemory<byte>, long)?> ReadAsync(
        JsonlReader reader, long maxLineBytes, int lineNumber, List<BatchLineError> errors, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.ReadLineAsync(maxLineBytes, cancellationToken);
        }
        catch (InvalidDataException ex)
        {
            errors.Add(new("line_too_long", ex.Message, null, lineNumber));
            return null;
        }
    }

    /// <summary>
    /// An error, or none and the request's model. Whatever is wrong with a line is that line's error, never the
    /// validation's failure: a value that cannot be read (a lone surrogate escape, a number out of range, anything a
    /// reader throws on) is reported on its line like any other mistake, so one bad line fails its batch at once.
    /// </summary>
    private static (BatchLineError? Error, string? Model) Check(
        ReadOnlySpan<byte> line, int lineNumber, string endpoint, RelayOperation operation, HashSet<UInt128> customIds)
    {
        try
        {
            return CheckLine(line, lineNumber, endpoint, operation, customIds);
        }
        catch (Exception ex) when (ex is not (OperationCanceledException or OutOfMemoryException))
        {
            return (new("invalid_json_line", $"This line has a value that cannot be read: {ex.Message}", null, lineNumber), null);
        }
    }

    private static (BatchLineError? Error, string? Model) CheckLine(
        ReadOnlySpan<byte> line, int lineNumber, string endpoint, RelayOperation operation, HashSet<UInt128> customIds)
    {
        // The same strict rule as every request body (no repeated names, valid Unicode), so no later read can throw.
        var (document, invalid) = StrictJson.ParseDocument(line.ToArray());
        if (document is null)
        {
            return (new("invalid_json_line", $"This line is not a valid JSON object. {invalid!.Error.Message}", null, lineNumber), null);
        }

        using (document)
        {
            var root = document.RootElement;

            if (!root.TryGetProperty("custom_id", out var id) || id.ValueKind != JsonValueKind.String || id.GetString()!.Length == 0)
            {
                return (new("missing_custom_id", "Each request needs a non-empty string custom_id.", "custom_id", lineNumber), null);
            }

            if (!customIds.Add(Digest(id.GetString()!)))
            {
                return (new("duplicate_custom_id", $"The custom_id '{id.GetString()}' is used more than once.", "custom_id", lineNumber), null);
            }

            if (!root.TryGetProperty("method", out var method) || method.ValueKind != JsonValueKind.String || method.GetString() != "POST")
            {
                return (new("invalid_method", "The method must be POST.", "method", lineNumber), null);
            }

            if (!root.TryGetProperty("url", out var url) || url.ValueKind != JsonValueKind.String || url.GetString() != endpoint)
            {
                return (new("mismatched_url", $"The url must be the batch's endpoint, {endpoint}.", "url", lineNumber), null);
            }

            if (!root.TryGetProperty("body", out var body) || body.ValueKind != JsonValueKind.Object)
            {
                return (new("invalid_body", "The body must be a JSON object.", "body", lineNumber), null);
            }

            var (request, error) = RequestParser.Parse(operation, System.Text.Encoding.UTF8.GetBytes(body.GetRawText()));
            if (request is null)
            {
                return (new("invalid_body", error!.Error.Message, error.Error.Param is { } param ? "body." + param : "body", lineNumber), null);
            }

            return request.Stream
                ? (new("invalid_body", "Streaming is not supported in batches.", "body.stream", lineNumber), null)
                : (null, request.Model);
        }
    }
}
