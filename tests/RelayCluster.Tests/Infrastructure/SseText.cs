using System.Text.Json.Nodes;

namespace RelayCluster.Tests.Infrastructure;

/// <summary>Splits an SSE body as the SDKs do, for assertions: data payloads and comment lines in order.</summary>
internal static class SseText
{
    public static List<string> DataPayloads(string body) =>
        body.Split('\n').Where(l => l.StartsWith("data: ", StringComparison.Ordinal)).Select(l => l[6..]).ToList();

    public static List<JsonObject> JsonChunks(string body) =>
        DataPayloads(body).Where(p => p != "[DONE]").Select(p => JsonNode.Parse(p)!.AsObject()).ToList();

    public static string Content(string body) => string.Concat(JsonChunks(body)
        .SelectMany(c => c["choices"]?.AsArray() ?? [])
        .Select(c => (string?)c?["delta"]?["content"] ?? ""));
}
