using System.Text.Json;
using System.Text.Json.Nodes;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Http;

namespace RelayCluster.Silo.Api;

/// <summary>
/// Request bodies that must be a JSON object, read and parsed by the one strict rule of <see cref="StrictJson"/>
/// (valid Unicode strings, no repeated property names), so every endpoint refuses the same bodies the same way.
/// </summary>
internal static class JsonBody
{
    /// <summary>
    /// The parsed body, or the relay's invalid-JSON error for text that does not parse, breaks the strict rule, or
    /// has a root that is not an object (the OpenAI API answers all of them the same way). The caller disposes the document.
    /// </summary>
    public static (JsonDocument? Document, RelayError? Error) ParseObject(ReadOnlyMemory<byte> body, int maxDepth = StrictJson.MaxDepth) =>
        StrictJson.ParseDocument(body, maxDepth);

    /// <summary>
    /// Reads a whole body (up to <see cref="RequestOptions.MaxBodyBytes"/>, else 413) and parses it into a node tree.
    /// An empty body is an empty object: the admin calls whose fields are all optional accept no body.
    /// </summary>
    public static async Task<(JsonObject? Object, RelayError? Error)> ReadObjectAsync(HttpContext context, bool emptyIsObject = false)
    {
        var (body, error) = await ReadAsync(context);
        if (error is not null)
        {
            return (null, error);
        }

        return body.IsEmpty && emptyIsObject ? (new JsonObject(), null) : StrictJson.ParseObject(body.Span);
    }

    /// <summary>Reads a whole body (up to <see cref="RequestOptions.MaxBodyBytes"/>, else 413) and checks it by the strict rule.</summary>
    public static async Task<(ReadOnlyMemory<byte> Body, RelayError? Error)> ReadCheckedAsync(HttpContext context)
    {
        var (body, error) = await ReadAsync(context);
        if (error is not null)
        {
            return (default, error);
        }

        var (document, invalid) = StrictJson.ParseDocument(body);
        document?.Dispose();
        return invalid is null ? (body, null) : (default, invalid);
    }

    private static Task<(ReadOnlyMemory<byte> Body, RelayError? Error)> ReadAsync(HttpContext context) =>
        BodyReader.ReadAsync(context.Request, context.RequestServices.GetRequiredService<RelayOptions>().Requests.MaxBodyBytes);

    /// <summary>An optional string field: <paramref name="absent"/> when the field is missing, else its string, or a 400 naming it when it is not a string.</summary>
    public static (string? Value, RelayError? Error) OptionalString(JsonObject body, string name, string? absent = null) => body[name] switch
    {
        null => (absent, null),
        var node when JsonKinds.IsString(node) => (node.GetValue<string>(), null),
        var node => (null, RelayError.InvalidType(name, "a string", JsonKinds.Describe(node))),
    };
}
