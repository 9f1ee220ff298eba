using System.Diagnostics;
using System.Net;
using RelayCluster.Core.Configuration;

namespace RelayCluster.Upstreams;

/// <summary>The HTTP client every remote provider uses, and how it reads an upstream's retry hints.</summary>
internal static class UpstreamHttp
{
    /// <summary>Sends the request; a connection that cannot be made is <see cref="UpstreamUnavailableException"/>.</summary>
    public static async Task<HttpResponseMessage> SendAsync(HttpMessageInvoker http, HttpRequestMessage message, CancellationToken cancellationToken)
    {
        try
        {
            return await http.SendAsync(message, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            throw new UpstreamUnavailableException(ex.Message, ex);
        }
    }

    /// <summary><c>x-should-retry</c> (OpenAI, Anthropic): an explicit yes or no from the upstream beats the status code.</summary>
    public static bool? ShouldRetryOf(HttpResponseMessage response) =>
        response.Headers.TryGetValues("x-should-retry", out var values) && bool.TryParse(values.FirstOrDefault(), out var value) ? value : null;

    /// <summary>The wait an upstream asks for: <c>retry-after-ms</c> when given (precise), else <c>Retry-After</c> in seconds or as a date.</summary>
    public static TimeSpan? RetryAfterOf(HttpResponseMessage response, TimeProvider time)
    {
        if (response.Headers.TryGetValues("retry-after-ms", out var ms)
            && double.TryParse(ms.FirstOrDefault(), System.Globalization.CultureInfo.InvariantCulture, out var milliseconds))
        {
            return TimeSpan.FromMilliseconds(milliseconds);
        }

        return response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - time.GetUtcNow(),
            _ => null,
        };
    }

    /// <summary>
    /// A pooled, unbuffered invoker: only connecting is time-bound (streams must not have a total timeout);
    /// connections are recycled every 5 minutes so DNS changes are picked up; no cookies, proxy or decompression,
    /// so bytes pass through as the upstream sent them. Without <paramref name="propagateTraces"/> no trace context
    /// goes upstream and HttpClient makes no activity per call (see <see cref="UpstreamTraceContext"/>).
    /// </summary>
    public static HttpMessageInvoker CreateInvoker(ProviderOptions options, bool propagateTraces = true) => new(new SocketsHttpHandler
    {
        ConnectTimeout = TimeSpan.FromSeconds(options.ConnectTimeoutSeconds),
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        UseProxy = false,
        MaxConnectionsPerServer = int.MaxValue,
        ActivityHeadersPropagator = propagateTraces ? DistributedContextPropagator.Current : null,
    });
}
