using System.Buffers;
using System.Diagnostics;
using System.Net;

namespace RelayCluster.Bench;

/// <summary>
/// Sends one request and reads the whole response, timing it. Built to cost the generator as little
/// as possible: one pooled <see cref="SocketsHttpHandler"/> used through a bare
/// <see cref="HttpMessageInvoker"/> (no HttpClient timeout plumbing), headers added without
/// validation, bodies pre-serialized, and responses drained into a pooled buffer, never parsed.
/// </summary>
internal sealed class HttpProbe : IDisposable
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);
    private readonly HttpMessageInvoker _invoker = new(new SocketsHttpHandler
    {
        UseProxy = false,
        UseCookies = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        MaxConnectionsPerServer = int.MaxValue,
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
    });

    public async Task<Sample> SendAsync(Target target)
    {
        using var timeout = new CancellationTokenSource(RequestTimeout);
        using var request = new HttpRequestMessage(HttpMethod.Post, target.NextUri()) { Content = new ByteArrayContent(target.Body) };
        request.Headers.TryAddWithoutValidation("Authorization", target.Authorization);
        request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        var start = Stopwatch.GetTimestamp();
        try
        {
            // SocketsHttpHandler hands the response back as soon as the headers are in: the body is
            // read below, so a stream is timed to its last byte.
            using var response = await _invoker.SendAsync(request, timeout.Token);
            await using var body = await response.Content.ReadAsStreamAsync(timeout.Token);
            var firstData = new StreamMarker("data:");
            var done = new StreamMarker("[DONE]");
            long firstDataAt = 0;
            int read;
            while ((read = await body.ReadAsync(buffer, timeout.Token)) > 0)
            {
                if (target.Stream)
                {
                    var chunk = buffer.AsSpan(0, read);
                    if (firstData.Feed(chunk))
                    {
                        firstDataAt = Stopwatch.GetTimestamp();
                    }

                    done.Feed(chunk);
                }
            }

            var end = Stopwatch.GetTimestamp();
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return Sample.Failed($"HTTP {(int)response.StatusCode}");
            }

            if (target.Stream && !done.Found)
            {
                return Sample.Failed("stream ended without [DONE]");
            }

            return new Sample(end - start, firstDataAt == 0 ? 0 : firstDataAt - start, null);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            return Sample.Failed("timeout");
        }
        catch (HttpRequestException e)
        {
            return Sample.Failed($"{e.HttpRequestError}");
        }
        catch (Exception e)
        {
            // Anything else is counted too rather than ending the run: the report lists errors by kind.
            return Sample.Failed(e.GetType().Name);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public void Dispose() => _invoker.Dispose();
}
