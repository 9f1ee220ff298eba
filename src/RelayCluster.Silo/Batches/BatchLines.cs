using System.Buffers;
using System.Text.Json;

namespace RelayCluster.Silo.Batches;

/// <summary>
/// Output and error file lines in OpenAI's format (<c>BatchRequestOutput</c>), one line each: the upstream body is
/// embedded re-written without whitespace, since a body may be pretty-printed over many lines (api.openai.com answers
/// indented JSON) and a JSONL line must not break; a body that is not JSON is embedded as a string.
/// </summary>
internal static class BatchLines
{
    /// <summary>A request that got an HTTP answer: 2xx goes to the output file, 4xx/5xx to the error file.</summary>
    public static byte[] Response(string customId, int status, string requestId, byte[] body) => Write(w =>
    {
        w.WriteString("custom_id", customId);
        w.WriteStartObject("response");
        w.WriteNumber("status_code", status);
        w.WriteString("request_id", requestId);
        w.WritePropertyName("body");
        WriteBody(w, body);
        w.WriteEndObject();
        w.WriteNull("error");
    });

    /// <summary>A request that never got an HTTP answer (expired, cancelled): an error object and no response.</summary>
    public static byte[] Error(string customId, string code, string message) => Write(w =>
    {
        w.WriteString("custom_id", customId);
        w.WriteNull("response");
        w.WriteStartObject("error");
        w.WriteString("code", code);
        w.WriteString("message", message);
        w.WriteEndObject();
    });

    private static void WriteBody(Utf8JsonWriter writer, byte[] body)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            writer.WriteStringValue(System.Text.Encoding.UTF8.GetString(body));
            return;
        }

        using (document)
        {
            document.RootElement.WriteTo(writer); // the writer is not indented: one line
        }
    }

    private static byte[] Write(Action<Utf8JsonWriter> fields)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("id", "batch_req_" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12)));
            fields(writer);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
