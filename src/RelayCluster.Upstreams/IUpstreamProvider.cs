using System.Text.Json.Nodes;
using RelayCluster.Core.Wire;

namespace RelayCluster.Upstreams;

/// <summary>A request on its way to an upstream: the body already rewritten for it.</summary>
public sealed record UpstreamRequest(RelayOperation Operation, JsonObject Body, bool Stream)
{
    /// <summary>
    /// The output cap (per choice) the relay's reservation assumed for this target: the caller's cap, else the model's
    /// default. The body is not changed; a provider that can honour it without that (the simulator) stops there.
    /// </summary>
    public long? OutputCap { get; init; }

    /// <summary>
    /// The caller's body as received, when known (see <see cref="RelayRequest.CallerBody"/>): a provider that sends the
    /// OpenAI wire format rewrites these bytes (<see cref="UpstreamBody"/>) instead of serializing <see cref="Body"/>.
    /// </summary>
    public ReadOnlyMemory<byte> CallerBody { get; init; }

    /// <summary>
    /// Vets a 2xx answer before it counts as one: returns it (its body may have been read, or re-wrapped to replay what
    /// was read), or another answer in its place, such as a 502 for a 2xx that is not the endpoint's answer. The
    /// resilience layer runs it inside each attempt, so such an answer is retried, counted against the upstream's
    /// health, and failed over like any 502, all before the caller holds a response.
    /// </summary>
    public Func<UpstreamResponse, CancellationToken, ValueTask<UpstreamResponse>>? Check { get; init; }
}

/// <summary>
/// An upstream model API. Answers with the status and an unbuffered body stream as soon as the upstream
/// has answered, so the relay can forward a stream while it is still being produced.
/// </summary>
public interface IUpstreamProvider
{
    string Id { get; }

    /// <summary>Sends the request. Connection failures throw <see cref="UpstreamUnavailableException"/>.</summary>
    ValueTask<UpstreamResponse> SendAsync(UpstreamRequest request, CancellationToken cancellationToken);
}

/// <summary>
/// The upstream could not be reached or did not answer (callers map it to 502 or a fallback). Not sealed:
/// the resilience layer's circuit-open and first-byte-timeout failures derive from it.
/// </summary>
public class UpstreamUnavailableException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>Upstream calls made before giving up (set by the resilience layer).</summary>
    public int Attempts { get; internal set; } = 1;
}

/// <summary>An upstream's answer. Disposing it ends the upstream call (and cancels a simulated one).</summary>
public sealed class UpstreamResponse(int statusCode, Stream body, TimeSpan? retryAfter, IDisposable? owner) : IAsyncDisposable
{
    public int StatusCode { get; } = statusCode;

    public Stream Body { get; } = body;

    public TimeSpan? RetryAfter { get; } = retryAfter;

    public bool IsSuccess => StatusCode is >= 200 and < 300;

    /// <summary>The upstream's <c>x-should-retry</c> header, which overrides the status in the retry decision.</summary>
    public bool? ShouldRetry { get; init; }

    /// <summary>
    /// A 400 the provider gave without calling its upstream because it cannot express the request (an Anthropic
    /// target asked for <c>n: 2</c>): the request may be fine for another provider, so a route tries its next target.
    /// </summary>
    public bool RefusedByProvider { get; init; }

    /// <summary>Upstream calls made for this answer, the first included (set by the resilience layer).</summary>
    public int Attempts { get; internal set; } = 1;

    /// <summary>The same answer with <paramref name="body"/> in place of its body, which the new body now owns.</summary>
    public UpstreamResponse WithBody(Stream body) => new(StatusCode, body, RetryAfter, owner) { ShouldRetry = ShouldRetry, Attempts = Attempts };

    public async ValueTask DisposeAsync()
    {
        owner?.Dispose();
        await Body.DisposeAsync();
    }
}
