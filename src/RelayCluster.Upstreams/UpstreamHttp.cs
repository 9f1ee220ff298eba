using System.Net;
using RelayCluster.Core.Configuration;

namespace RelayCluster.Upstreams;

/// <summary>The HTTP client every remote provider uses.</summary>
internal static class UpstreamHttp
{
    /// <summary>
    /// A pooled, unbuffered invoker: only connecting is time-bound (streams must not have a total timeout);
    /// connections are recycled every 5 minutes so DNS changes are picked up; no cookies, proxy or decompression,
    /// so bytes pass through as the upstream sent them.
    /// </summary>
    public static HttpMessageInvoker CreateInvoker(ProviderOptions options) => new(new SocketsHttpHandler
    {
        ConnectTimeout = TimeSpan.FromSeconds(options.ConnectTimeoutSeconds),
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        UseProxy = false,
        MaxConnectionsPerServer = int.MaxValue,
    });
}
