using System.Buffers;
using System.Net;
using RelayCluster.Bench.Proxy;

// usage: RelayCluster.Bench.Proxy --urls http://127.0.0.1:PORT --upstream http://127.0.0.1:PORT/v1/
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
var upstream = new Uri(builder.Configuration["upstream"] ?? throw new ArgumentException("--upstream URL is required."));
var app = builder.Build();
var forwarder = new Forwarder(upstream);
app.MapPost("/v1/{**path}", (HttpContext context, string path) => forwarder.ForwardAsync(context, path));
app.MapGet("/healthz", () => "ok");

// The line a silo's System.Runtime meter exports at /metrics, so bench/hotpath/run.sh reads bytes allocated per request of
// both the same way (GC.GetTotalAllocatedBytes, as the meter does). Off the forwarding path: read before and after a window.
app.MapGet("/metrics", () => $"dotnet_gc_heap_total_allocated_bytes_total {GC.GetTotalAllocatedBytes()}\n");
app.Run();

namespace RelayCluster.Bench.Proxy
{
    /// <summary>
    /// Forwards a POST as it came and hands the answer back as it arrives, flushing every read so a
    /// stream stays a stream: the least any relay must do, so relay − bare proxy is what the relay's own
    /// work (auth, admission, metering, parsing) costs beyond the extra process hop.
    /// </summary>
    internal sealed class Forwarder(Uri upstream)
    {
        private readonly HttpMessageInvoker _http = new(new SocketsHttpHandler
        {
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            MaxConnectionsPerServer = int.MaxValue,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        });

        public async Task ForwardAsync(HttpContext context, string path)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(upstream, path)) { Content = new StreamContent(context.Request.Body) };
            request.Content.Headers.ContentLength = context.Request.ContentLength;
            request.Content.Headers.TryAddWithoutValidation("Content-Type", context.Request.ContentType);
            request.Headers.TryAddWithoutValidation("Authorization", context.Request.Headers.Authorization.ToString());

            using var response = await _http.SendAsync(request, context.RequestAborted);
            context.Response.StatusCode = (int)response.StatusCode;
            context.Response.ContentType = response.Content.Headers.ContentType?.ToString();
            context.Response.ContentLength = response.Content.Headers.ContentLength;
            await using var body = await response.Content.ReadAsStreamAsync(context.RequestAborted);
            var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
            try
            {
                int read;
                while ((read = await body.ReadAsync(buffer, context.RequestAborted)) > 0)
                {
                    await context.Response.Body.WriteAsync(buffer.AsMemory(0, read), context.RequestAborted);
                    await context.Response.Body.FlushAsync(context.RequestAborted);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }
}
