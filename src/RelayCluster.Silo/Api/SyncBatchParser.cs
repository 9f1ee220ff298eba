using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;
using RelayCluster.Core.Wire;

namespace RelayCluster.Silo.Api;

/// <summary>
/// Splits a <c>POST /v1/batch</c> body into its requests. Only the envelope is judged here (a 400 for the whole
/// call, naming the field); each request's own fields are judged by the same parser as a single call, per item.
/// </summary>
internal static class SyncBatchParser
{
    // Two levels more than a single call allows, so an item may nest exactly as deep.
    private const int MaxDepth = StrictJson.MaxDepth + 2;

    public static (IReadOnlyList<SyncBatchItem>? Items, RelayError? Error) Parse(ReadOnlyMemory<byte> body, int maxRequests)
    {
        var (document, invalid) = JsonBody.ParseObject(body, MaxDepth);
        if (document is null)
        {
            return (null, invalid);
        }

        using (document)
        {
            var root = document.RootElement;
            if (!root.TryGetProperty("requests", out var requests) || requests.ValueKind == JsonValueKind.Null)
            {
                return (null, RelayError.MissingParameter("requests"));
            }

            if (requests.ValueKind != JsonValueKind.Array)
            {
                return (null, RelayError.InvalidType("requests", "an array", Describe(requests)));
            }

            var count = requests.GetArrayLength();
            if (count == 0)
            {
                return (null, RelayError.BadRequest(
                    "Invalid 'requests': empty array. Expected an array with minimum length 1, but got an empty array instead.", "requests", "empty_array"));
            }

            if (count > maxRequests)
            {
                return (null, RelayError.BadRequest(
                    $"Invalid 'requests': array too long. Expected an array with maximum length {maxRequests}, but got an array with length {count} instead.",
                    "requests", "array_above_max_length"));
            }

            var items = new List<SyncBatchItem>(count);
            foreach (var request in requests.EnumerateArray())
            {
                var (item, error) = ParseItem(items.Count, request);
                if (error is not null)
                {
                    return (null, error);
                }

                items.Add(item!);
            }

            return (items, null);
        }
    }

    private static (SyncBatchItem?, RelayError?) ParseItem(int index, JsonElement request)
    {
        var path = $"requests[{index}]";
        if (request.ValueKind != JsonValueKind.Object)
        {
            return (null, RelayError.InvalidType(path, "an object", Describe(request)));
        }

        if (!request.TryGetProperty("model", out var model) || model.ValueKind == JsonValueKind.Null)
        {
            return (null, RelayError.BadRequest($"Missing required parameter: '{path}.model'.", $"{path}.model", "missing_required_parameter"));
        }

        string? customId = null;
        if (request.TryGetProperty("custom_id", out var custom) && custom.ValueKind != JsonValueKind.Null)
        {
            if (custom.ValueKind != JsonValueKind.String)
            {
                return (null, RelayError.InvalidType($"{path}.custom_id", "a string", Describe(custom)));
            }

            customId = custom.GetString();
        }

        var isChat = request.TryGetProperty("messages", out _);
        var isEmbeddings = request.TryGetProperty("input", out _);
        var operation = isChat ? RelayOperation.ChatCompletions : RelayOperation.Embeddings;
        var refusal = (isChat, isEmbeddings) switch
        {
            (true, true) => RelayError.InvalidValue(path, "a request is a chat completion ('messages') or an embeddings call ('input'), not both."),
            (false, false) => RelayError.BadRequest(
                $"Missing required parameter: '{path}.messages' (a chat completion) or '{path}.input' (an embeddings call).",
                $"{path}.messages", "missing_required_parameter"),
            // A synchronous batch answers with whole bodies; a stream has nowhere to go.
            _ when request.TryGetProperty("stream", out var stream) && stream.ValueKind == JsonValueKind.True => RelayError.InvalidValue(
                $"{path}.stream", "streaming is not supported in a batch; leave 'stream' unset or false."),
            _ => null,
        };

        return (new SyncBatchItem(index, customId, operation, refusal is null ? UpstreamBody(request, custom) : [], refusal), null);
    }

    /// <summary>
    /// The request exactly as sent, minus <c>custom_id</c>: that is the batch's own field, and an OpenAI-compatible
    /// upstream may reject a parameter it does not know. Values are copied as raw bytes, never re-serialized.
    /// </summary>
    private static byte[] UpstreamBody(JsonElement request, JsonElement customId)
    {
        if (customId.ValueKind == JsonValueKind.Undefined)
        {
            return JsonMarshal.GetRawUtf8Value(request).ToArray();
        }

        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true }))
        {
            writer.WriteStartObject();
            foreach (var property in request.EnumerateObject())
            {
                if (property.NameEquals("custom_id"))
                {
                    continue;
                }

                writer.WritePropertyName(property.Name);
                writer.WriteRawValue(JsonMarshal.GetRawUtf8Value(property.Value), skipInputValidation: true);
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static string Describe(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "a value",
    };
}

/// <summary>
/// One request of a batch: its upstream-bound body, or a refusal found before it could start (then it is never
/// admitted and costs nothing).
/// </summary>
internal sealed record SyncBatchItem(int Index, string? CustomId, RelayOperation Operation, byte[] Body, RelayError? Refusal);
