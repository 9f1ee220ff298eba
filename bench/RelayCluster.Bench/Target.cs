using System.Text.Json.Nodes;

namespace RelayCluster.Bench;

/// <summary>
/// One endpoint under load and the request sent to it. The body is serialized once so that the
/// generator spends its share of the two cores on sending, not on building JSON.
/// </summary>
internal sealed class Target
{
    public Target(string name, Uri baseUrl, string apiKey, string model, bool stream)
    {
        Name = name;
        Stream = stream;
        Uri = new Uri(baseUrl, "v1/chat/completions");
        Authorization = $"Bearer {apiKey}";
        var body = new JsonObject
        {
            ["model"] = model,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Hello benchmark" }),
            ["max_tokens"] = 16,
        };
        if (stream)
        {
            body["stream"] = true;
        }

        Body = System.Text.Encoding.UTF8.GetBytes(body.ToJsonString());
    }

    public string Name { get; }

    public bool Stream { get; }

    public Uri Uri { get; }

    public string Authorization { get; }

    public byte[] Body { get; }
}
