using System.Text.Json;
using RelayCluster.Core.Wire;

namespace RelayCluster.Silo.Api;

/// <summary>Request bodies that must be a JSON object.</summary>
internal static class JsonBody
{
    /// <summary>
    /// The parsed body, or the relay's invalid-JSON error for text that does not parse and for a root that is not an
    /// object (the OpenAI API answers both the same way). The caller disposes the document.
    /// </summary>
    public static (JsonDocument? Document, RelayError? Error) ParseObject(ReadOnlyMemory<byte> body, JsonDocumentOptions options = default)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, options);
        }
        catch (JsonException)
        {
            return (null, RelayError.InvalidJson());
        }

        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            return (null, RelayError.InvalidJson());
        }

        return (document, null);
    }
}
