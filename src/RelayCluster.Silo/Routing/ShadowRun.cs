using System.Text;
using System.Text.Json;

namespace RelayCluster.Silo.Routing;

/// <summary>
/// One shadowed request as its primary call sees it: the content the caller received (collected from the
/// bodies and chunks the relay forwards, up to a bound) and how it ended. The shadow task waits for this.
/// </summary>
internal sealed class ShadowRun(string requestId)
{
    private const int MaxContentChars = 32 * 1024;

    private readonly StringBuilder _content = new();
    private readonly TaskCompletionSource<PrimaryOutcome> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string RequestId => requestId;

    public Task<PrimaryOutcome> Ended => _ended.Task;

    /// <summary>Adds the text content of a chat completion body or chunk (message or delta of the first choice).</summary>
    public void Capture(ReadOnlySpan<byte> payload)
    {
        if (_content.Length < MaxContentChars && ContentOf(payload) is { } text)
        {
            _content.Append(text.AsSpan(0, Math.Min(text.Length, MaxContentChars - _content.Length)));
        }
    }

    public void PrimaryEnded(string model, int status, double latencyMs) =>
        _ended.TrySetResult(new PrimaryOutcome(model, status, latencyMs, _content.ToString()));

    /// <summary>The content of the first choice's <c>message</c> or <c>delta</c>, or null.</summary>
    public static string? ContentOf(ReadOnlySpan<byte> payload)
    {
        try
        {
            var reader = new Utf8JsonReader(payload);
            using var document = JsonDocument.ParseValue(ref reader);
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array
                && choices.GetArrayLength() > 0)
            {
                var choice = choices[0];
                var part = choice.TryGetProperty("message", out var message) ? message : choice.TryGetProperty("delta", out var delta) ? delta : default;
                if (part.ValueKind == JsonValueKind.Object && part.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String)
                {
                    return content.GetString();
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON: nothing to compare.
        }

        return null;
    }
}

/// <summary>How the caller's call ended: the target that answered, its status, latency and content.</summary>
internal sealed record PrimaryOutcome(string Model, int Status, double LatencyMs, string Content);
