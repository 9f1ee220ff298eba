using System.Text.Json.Nodes;

namespace RelayCluster.Bench;

/// <summary>
/// One endpoint under load and the request sent to it. The body is serialized once so that the
/// generator spends its share of the two cores on sending, not on building JSON. A target may be several
/// silos of one cluster: requests then go to them in turn.
/// </summary>
internal sealed class Target
{
    private readonly Uri[] _uris;
    private int _next = -1;

    public Target(string name, Uri baseUrl, string apiKey, string model, bool stream)
        : this(name, [baseUrl], apiKey, model, stream)
    {
    }

    public Target(string name, IReadOnlyList<Uri> baseUrls, string apiKey, string model, bool stream)
    {
        Name = name;
        Stream = stream;
        _uris = [.. baseUrls.Select(u => new Uri(u, "v1/chat/completions"))];
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

    /// <summary>Where the next request goes: the target's silos in turn (round robin).</summary>
    public Uri NextUri() => _uris.Length == 1 ? _uris[0] : _uris[(int)((uint)Interlocked.Increment(ref _next) % (uint)_uris.Length)];

    public string Authorization { get; }

    public byte[] Body { get; }
}
