using System.Text.Json.Nodes;
using RelayCluster.Core.Wire;

namespace RelayCluster.Upstreams;

/// <summary>A request on its way to an upstream: the body already rewritten for it.</summary>
public sealed record UpstreamRequest(RelayOperation Operation, JsonObject Body, bool Stream);

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

public sealed class UpstreamUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>An upstream's answer. Disposing it ends the upstream call (and cancels a simulated one).</summary>
public sealed class UpstreamResponse(int statusCode, Stream body, TimeSpan? retryAfter, IDisposable? owner) : IAsyncDisposable
{
    public int StatusCode { get; } = statusCode;

    public Stream Body { get; } = body;

    public TimeSpan? RetryAfter { get; } = retryAfter;

    public bool IsSuccess => StatusCode is >= 200 and < 300;

    public async ValueTask DisposeAsync()
    {
        owner?.Dispose();
        await Body.DisposeAsync();
    }
}
