using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Unicode;

namespace RelayCluster.Core.Wire;

/// <summary>
/// The one parsing step for every JSON request body (the /v1 calls, batch lines, the admin API). The rule is
/// strict: a body is accepted only if every string and property name is valid Unicode (well-formed UTF-8, no
/// unpaired surrogate escape such as <c>"\ud800"</c>) and no object repeats a property name. Anything else is a
/// 400 <c>invalid_request_error</c> that says what is wrong, found here at parse time, so no later read of the
/// document can throw (System.Text.Json otherwise accepts such text and throws only when a string is read, or
/// lets the last duplicate win). Numbers are checked where they are read, as the parameter they are.
/// </summary>
public static class StrictJson
{
    /// <summary>Nesting a request body may have; OpenAI's own bodies need far less.</summary>
    public const int MaxDepth = 64;

    /// <summary>Parses a body whose root must be an object. The caller disposes the document.</summary>
    /// <param name="body">The whole body, UTF-8.</param>
    /// <param name="maxDepth">Nesting allowed (an envelope such as /v1/batch allows its items' depth plus its own).</param>
    public static (JsonDocument? Document, RelayError? Error) ParseDocument(ReadOnlyMemory<byte> body, int maxDepth = MaxDepth)
    {
        if (Check(body.Span, maxDepth) is { } invalid)
        {
            return (null, invalid);
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, Options(maxDepth));
        }
        catch (JsonException ex)
        {
            // Only a duplicate property name is left to find: syntax and strings were checked above.
            return (null, RelayError.InvalidJson(DuplicateDetail(ex)));
        }

        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            return (null, RelayError.InvalidJson("the body must be a JSON object"));
        }

        return (document, null);
    }

    /// <summary>Parses a body whose root must be an object into a mutable node tree (for bodies the relay rewrites).</summary>
    public static (JsonObject? Object, RelayError? Error) ParseObject(ReadOnlySpan<byte> body, int maxDepth = MaxDepth)
    {
        if (Check(body, maxDepth) is { } invalid)
        {
            return (null, invalid);
        }

        JsonNode? root;
        try
        {
            root = JsonNode.Parse(body, default, Options(maxDepth));
        }
        catch (JsonException ex)
        {
            return (null, RelayError.InvalidJson(DuplicateDetail(ex)));
        }

        return root is JsonObject obj ? (obj, null) : (null, RelayError.InvalidJson("the body must be a JSON object"));
    }

    /// <summary>
    /// One forward pass: syntax, depth, and that every string and property name decodes to valid Unicode.
    /// Null when the text is acceptable (duplicates are left to the document parse, which tracks them).
    /// </summary>
    public static RelayError? Check(ReadOnlySpan<byte> body, int maxDepth = MaxDepth)
    {
        if (body.IsEmpty)
        {
            return RelayError.InvalidJson("the body is empty");
        }

        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = maxDepth });
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName && !IsValidText(ref reader))
                {
                    var what = reader.TokenType == JsonTokenType.PropertyName ? "a property name" : "a string";
                    return RelayError.InvalidJson(
                        $"{what} at byte {reader.TokenStartIndex} is not valid Unicode (invalid UTF-8, or an unpaired surrogate escape such as \\ud800)");
                }
            }
        }
        catch (JsonException ex)
        {
            return RelayError.InvalidJson(reader.CurrentDepth >= maxDepth - 1 ? $"the body nests deeper than {maxDepth} levels" : SyntaxDetail(ex));
        }

        return null;
    }

    private static bool IsValidText(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped)
        {
            return Utf8.IsValid(reader.ValueSpan);
        }

        try
        {
            // Escapes are rare: decoding is the simplest exact check of what they spell.
            _ = reader.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static JsonDocumentOptions Options(int maxDepth) => new() { MaxDepth = maxDepth, AllowDuplicateProperties = false };

    // The reader's messages name the position ("... LineNumber: 0 | BytePositionInLine: 7.") and never echo the body.
    private static string SyntaxDetail(JsonException ex) =>
        ex.BytePositionInLine is { } position ? $"invalid JSON at line {(ex.LineNumber ?? 0) + 1}, byte {position}" : "invalid JSON";

    private static string DuplicateDetail(JsonException ex) =>
        ex.Message.StartsWith("Duplicate property", StringComparison.Ordinal)
            ? "an object repeats a property name (" + Truncate(ex.Message) + "); each name may appear once"
            : "invalid JSON";

    private static string Truncate(string message) => message.Length <= 200 ? message : message[..200] + "…";
}
