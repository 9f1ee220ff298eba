using System.Text.Json;
using RelayCluster.Core.Wire;

namespace RelayCluster.Silo.Relay;

/// <summary>
/// What counts as an upstream's answer, in one place for every path (HTTP, streamed or not, batch items, the
/// synchronous batch, shadow traffic). A 2xx that is not the endpoint's answer is an upstream failure, never a
/// completion: a chat completion is a JSON object whose <c>choices</c> is a non-empty array of objects, an
/// embeddings answer one whose <c>data</c> is a non-empty array of objects with an <c>embedding</c>, and a stream
/// chunk a JSON object with a <c>choices</c> array (empty in the final usage chunk, which some upstreams send with
/// <c>usage</c> alone) — the shapes of OpenAI's
/// <c>chat.completion</c>, <c>chat.completion.chunk</c> and embeddings list objects (API reference, "The chat
/// completion object" / "The chat completion chunk object" / "The embedding object"). An answer carrying an
/// <c>error</c> object is the upstream's error whatever its status, as the official SDKs treat a stream event.
/// </summary>
internal static class UpstreamAnswers
{
    /// <summary>The code of the 502 an answer gets that is not one.</summary>
    public const string InvalidCode = "upstream_invalid_response";

    /// <summary>What is wrong with a whole (non-streamed) answer of <paramref name="operation"/>, or null if it is one.</summary>
    public static OpenAiError? ProblemWithBody(RelayOperation operation, ReadOnlySpan<byte> body)
    {
        if (IsPlainAnswer(operation, body))
        {
            return null;
        }

        var what = operation == RelayOperation.Embeddings ? "an embeddings list" : "a chat completion";
        JsonDocument? document = null;
        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 256 });
            document = JsonDocument.ParseValue(ref reader);
            if (reader.Read())
            {
                document.Dispose();
                return Invalid($"its answer held more than one JSON value, so not {what}.");
            }
        }
        catch (JsonException)
        {
            document?.Dispose();
            return Invalid(body.IsEmpty ? $"it answered with an empty body instead of {what}." : $"its answer was not JSON, so not {what}.");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return Invalid($"it answered with a JSON {Kind(root.ValueKind)} instead of {what}.");
            }

            if (UpstreamErrors.ReadError(root) is { } error)
            {
                return UpstreamSaid(error);
            }

            var (list, member) = operation == RelayOperation.Embeddings ? ("data", "embedding") : ("choices", null);
            if (!root.TryGetProperty(list, out var items) || items.ValueKind != JsonValueKind.Array || items.GetArrayLength() == 0)
            {
                return Invalid($"its answer has no '{list}' list, so it is not {what}.");
            }

            foreach (var item in items.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Object || (member is not null && !item.TryGetProperty(member, out _)))
                {
                    return Invalid($"its '{list}' list holds something that is not {(member is null ? "a choice" : "an embedding")}.");
                }
            }

            return null;
        }
    }

    /// <summary>
    /// The common case of <see cref="ProblemWithBody"/> without building a document (a tree per answer was its largest
    /// cost): true only for one JSON object with no <c>error</c> member and exactly one list member (<c>choices</c>, or
    /// <c>data</c> for embeddings) that is a non-empty array of objects, each embedding holding an <c>embedding</c>
    /// member. Such an answer is one by the document rules too; false sends every other body (errors, odd shapes,
    /// repeated members, broken JSON) to the document path, which says what is wrong with it.
    /// </summary>
    private static bool IsPlainAnswer(RelayOperation operation, ReadOnlySpan<byte> body)
    {
        var embeddings = operation == RelayOperation.Embeddings;
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 256 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            var lists = 0;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("error"u8))
                {
                    return false;
                }

                var isList = reader.ValueTextEquals(embeddings ? "data"u8 : "choices"u8);
                if (!reader.Read())
                {
                    return false;
                }

                if (!isList)
                {
                    reader.Skip();
                }
                else if (++lists > 1 || !IsListOfItems(ref reader, embeddings))
                {
                    return false;
                }
            }

            return lists == 1 && reader.TokenType == JsonTokenType.EndObject && !reader.Read(); // nothing after the object
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>At a list's first token: whether it is a non-empty array of objects (of embeddings when asked); leaves the reader at its end.</summary>
    private static bool IsListOfItems(ref Utf8JsonReader reader, bool embeddings)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            return false;
        }

        var items = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            items++;
            var hasEmbedding = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                hasEmbedding |= reader.ValueTextEquals("embedding"u8);
                reader.Read();
                reader.Skip();
            }

            if (embeddings && !hasEmbedding)
            {
                return false;
            }
        }

        return items > 0;
    }

    /// <summary>
    /// Whether a stream event ends the stream: data that starts with <c>[DONE]</c>, as the official SDKs test it
    /// (openai-python <c>_streaming.py</c>: <c>sse.data.startswith("[DONE]")</c>; openai-node <c>streaming.ts</c>:
    /// <c>sse.data.startsWith('[DONE]')</c>), so <c>[DONE] </c> with trailing spaces ends a stream as it does for them.
    /// </summary>
    public static bool IsDone(ReadOnlySpan<byte> payload) => payload.StartsWith("[DONE]"u8);

    /// <summary>What is wrong with one event of a chat stream (other than <c>[DONE]</c>), or null if it is a chunk.</summary>
    public static OpenAiError? ProblemWithChunk(ReadOnlySpan<byte> payload)
    {
        var reader = new Utf8JsonReader(payload, new JsonReaderOptions { MaxDepth = 256 });
        var hasChoices = false;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return reader.TokenType is JsonTokenType.None
                    ? Invalid("it sent an event with no data instead of a chat completion chunk.")
                    : Invalid($"it sent a JSON {Kind(reader.TokenType)} instead of a chat completion chunk.");
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.ValueTextEquals("choices"u8) ? "choices" : reader.ValueTextEquals("error"u8) ? "error"
                    : reader.ValueTextEquals("usage"u8) ? "usage" : null;
                reader.Read();
                if (name == "error" && reader.TokenType != JsonTokenType.Null)
                {
                    using var document = JsonDocument.Parse(payload.ToArray());
                    return UpstreamSaid(UpstreamErrors.ReadError(document.RootElement)
                        ?? new OpenAiError("The upstream provider sent an error event.", "server_error", null, null));
                }

                hasChoices |= (name == "choices" && reader.TokenType == JsonTokenType.StartArray)
                    || (name == "usage" && reader.TokenType == JsonTokenType.StartObject); // a usage chunk that left out "choices": []
                reader.Skip();
            }

            if (reader.Read())
            {
                return Invalid("its event held more than one JSON value.");
            }
        }
        catch (JsonException)
        {
            return Invalid("it sent an event that is not JSON instead of a chat completion chunk.");
        }

        return hasChoices ? null : Invalid("it sent an event with no 'choices' list, so not a chat completion chunk.");
    }

    /// <summary>The envelope of <paramref name="error"/>, as a response body.</summary>
    public static byte[] Envelope(OpenAiError error) => BufferedCall.ErrorBody(new RelayError(502, error));

    public static OpenAiError Invalid(string reason) => new(
        $"The upstream provider answered, but not with a valid response: {reason}", "server_error", null, InvalidCode);

    /// <summary>
    /// The upstream's own error in a 2xx answer or a stream event: its message, type, param and code kept (the SDKs
    /// raise an <c>APIError</c> with them), <see cref="InvalidCode"/> when it gave no code.
    /// </summary>
    private static OpenAiError UpstreamSaid(OpenAiError error) => new(
        $"The upstream provider sent an error: {error.Message}", error.Type, error.Param, error.Code ?? InvalidCode);

    private static string Kind(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        _ => "null",
    };

    private static string Kind(JsonTokenType token) => token switch
    {
        JsonTokenType.StartArray => "array",
        JsonTokenType.String => "string",
        JsonTokenType.Number => "number",
        JsonTokenType.True or JsonTokenType.False => "boolean",
        _ => "null",
    };
}
