using System.Text;

namespace RelayCluster.Tests.Hostile;

/// <summary>One malformed request body: what it is, its exact bytes, and the content type it is sent with.</summary>
public sealed record HostileBody(string Name, byte[] Bytes, string ContentType = "application/json")
{
    public override string ToString() => Name;
}

/// <summary>
/// The hostile-input corpus: bodies that no JSON endpoint may accept, each a kind of mistake an attacker (or a
/// broken client) sends. Every one must get a 4xx with an OpenAI error envelope on every endpoint, never a 5xx.
/// Raw bytes are built here rather than kept in data files, since several are not valid text.
/// </summary>
public static class HostileBodies
{
    /// <summary>Stands for the id of a real batch input file; the test puts the real one in its place.</summary>
    public const string FileId = "file-corpus-placeholder";

    private const string Chat = "\"model\":\"mock-fast\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";

    public static IReadOnlyList<HostileBody> All { get; } =
    [
        Text("empty body", ""),
        Text("whitespace only", " \n\t "),
        Text("truncated object", "{\"model\": \"mock-fast\", \"messages\": ["),
        Text("truncated string", "{\"model\": \"mock-f"),
        Text("trailing garbage", "{" + Chat + "} {}"),
        Text("trailing comma", "{" + Chat + ",}"),
        Text("single quotes", "{'model':'mock-fast'}"),
        Text("comment", "{/* c */" + Chat + "}"),
        Text("array root", "[{" + Chat + "}]"),
        Text("string root", "\"just a string\""),
        Text("number root", "42"),
        Text("null root", "null"),
        Text("boolean root", "true"),
        Text("duplicate top-level keys", "{\"model\":\"mock-fast\",\"model\":\"mock-fast\"," + Chat[20..] + ",\"id\":\"x\",\"id\":\"y\"}"),
        Text("duplicate nested keys", "{" + Chat + ",\"stream_options\":{\"include_usage\":true,\"include_usage\":false},\"metadata\":{\"a\":\"1\",\"a\":\"2\"}}"),
        Text("duplicate key spelled with an escape", "{\"model\":\"mock-fast\",\"\\u006dodel\":\"x\"}"),
        Text("lone high surrogate in a value", "{\"model\":\"\\ud800\",\"id\":\"\\ud800\",\"input_file_id\":\"\\ud800\",\"endpoint\":\"\\ud800\"}"),
        Text("lone low surrogate in a key", "{\"\\udc00\":1," + Chat + "}"),
        Text("reversed surrogate pair", "{" + Chat + ",\"user\":\"\\udc00\\ud800\"}"),
        Raw("raw 0xFF inside a string", "{\"model\":\"mock-fast\",\"messages\":[{\"role\":\"user\",\"content\":\"", [0xFF, 0xFE], "\"}]}"),
        Raw("overlong UTF-8 in a key", "{\"", [0xC0, 0xAF], "\":1}"),
        Raw("truncated UTF-8 sequence", "{\"model\":\"", [0xE2, 0x82], "\"}"),
        Raw("UTF-16 body", "", Encoding.Unicode.GetBytes("{\"model\":\"mock-fast\"}"), ""),
        Raw("NUL byte outside a string", "{", [0x00], "}"),
        Text("numbers overflowing long and double",
            "{" + Chat + ",\"max_tokens\":1e400,\"n\":99999999999999999999999,\"requests_per_minute\":1e400,\"monthly_budget_usd\":1e400,\"weights\":{\"x\":1e400},\"dimensions\":-1e400,\"alternative\":1e400}"),
        Text("NaN and Infinity", "{\"model\":\"mock-fast\",\"max_tokens\":NaN,\"n\":Infinity}"),
        Text("deep nesting (arrays)", new string('[', 10_000) + new string(']', 10_000)),
        Text("deep nesting inside a field", "{" + Chat + ",\"metadata\":" + string.Concat(Enumerable.Repeat("{\"a\":", 200)) + "1" + new string('}', 200) + "}"),
        Text("huge array of the wrong kind", "{\"model\":\"mock-fast\",\"messages\":[" + string.Join(",", Enumerable.Repeat("0", 200_000)) + "],\"requests\":7,\"input\":{}}"),
        Text("every field the wrong type",
            "{\"model\":42,\"messages\":\"x\",\"input\":{},\"requests\":7,\"input_file_id\":5,\"endpoint\":[],\"completion_window\":1,\"metadata\":[]," +
            "\"id\":{},\"requests_per_minute\":\"x\",\"models\":\"*\",\"weights\":\"w\",\"alternative\":1,\"lane\":2,\"targets\":\"x\",\"alternatives\":5,\"active\":[]}"),
        // Bodies that are right for one endpoint but for a single fault, so the fault is what gets judged
        // (FileId is replaced by a real batch input file of the caller's when sent).
        Text("sync batch with repeated requests", "{\"requests\":[{" + Chat + "}],\"requests\":[{" + Chat + "}]}"),
        Text("sync batch item with a repeated key", "{\"requests\":[{\"custom_id\":\"a\",\"custom_id\":\"b\"," + Chat + "}]}"),
        Text("sync batch item with a lone surrogate", "{\"requests\":[{\"model\":\"mock-fast\",\"messages\":[{\"role\":\"user\",\"content\":\"\\ud800\"}]}]}"),
        Text("batch with repeated metadata keys", "{\"input_file_id\":\"" + FileId + "\",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"24h\",\"metadata\":{\"a\":\"1\",\"a\":\"2\"}}"),
        Text("batch with a repeated endpoint", "{\"input_file_id\":\"" + FileId + "\",\"endpoint\":\"/v1/embeddings\",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"24h\"}"),
        Text("batch with a lone surrogate in metadata", "{\"input_file_id\":\"" + FileId + "\",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"24h\",\"metadata\":{\"k\":\"\\udfff\"}}"),
        Text("tenant create with a repeated id", "{\"id\":\"corpus-a\",\"id\":\"corpus-b\"}"),
        Text("tenant patch with a repeated limit", "{\"requests_per_minute\":5,\"requests_per_minute\":6}"),
        Text("chat with a repeated model", "{\"model\":\"mock-fast\",\"model\":\"mock-embed\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"),
        Text("form-encoded body", "model=mock-fast&messages=hi", "application/x-www-form-urlencoded"),
        Text("plain text body", "not json at all", "text/plain"),
        Raw("byte order mark then garbage", "", [0xEF, 0xBB, 0xBF], "{,}"),
    ];

    private static HostileBody Text(string name, string text, string contentType = "application/json") =>
        new(name, Encoding.UTF8.GetBytes(text), contentType);

    private static HostileBody Raw(string name, string before, byte[] bytes, string after) =>
        new(name, [.. Encoding.UTF8.GetBytes(before), .. bytes, .. Encoding.UTF8.GetBytes(after)]);
}
