using Microsoft.Extensions.Options;
using RelayCluster.Core.Configuration;

namespace RelayCluster.Silo.Relay;

/// <summary>
/// A deadline on every send to a streaming client: a write or flush that makes no progress for
/// <c>Relay:Streams:ClientSendTimeoutSeconds</c> means the client stopped reading. Waiting on would hold its
/// concurrency slot, its renewed reservation and an upstream connection for as long as the client keeps the socket
/// open, so the stall ends the request as if the client had left: <paramref name="stalled"/> cuts the connection
/// (which fires the sink's <c>Aborted</c>), and the relay cancels the upstream call and settles
/// <c>client_disconnected</c> with what was relayed. Kestrel's minimum response data rate does not bound this usefully
/// (every write gets its own grace period; a 1,000 s deadline left the test's stalled stream open well past 9 s), and
/// SignalR has no send timeout at all.
/// </summary>
internal sealed partial class SendDeadline(TimeSpan timeout, TimeProvider time, Action stalled, ILogger logger, string requestId, CancellationToken aborted)
{
    /// <summary>
    /// The deadline for an HTTP request, from the silo's options. On a stall it cancels <paramref name="stop"/> (the
    /// sink's Aborted, at once: the server cancels RequestAborted later, on another thread) and cuts the connection.
    /// </summary>
    public static SendDeadline For(HttpContext context, CancellationTokenSource stop)
    {
        var services = context.RequestServices;
        return new SendDeadline(Timeout(services), services.GetRequiredService<TimeProvider>(), () =>
            {
                stop.Cancel();
                context.Abort();
            },
            services.GetRequiredService<ILogger<SendDeadline>>(), context.TraceIdentifier, stop.Token);
    }

    /// <summary><c>Relay:Streams:ClientSendTimeoutSeconds</c>.</summary>
    public static TimeSpan Timeout(IServiceProvider services) =>
        TimeSpan.FromSeconds(services.GetRequiredService<IOptions<StreamSecurityOptions>>().Value.ClientSendTimeoutSeconds);

    /// <summary>Waits for <paramref name="send"/>, or ends the request as disconnected when it stalls past the deadline.</summary>
    public async ValueTask WithinAsync(ValueTask send)
    {
        if (send.IsCompletedSuccessfully)
        {
            return;
        }

        await WithinAsync(send.AsTask());
    }

    /// <inheritdoc cref="WithinAsync(ValueTask)"/>
    public async ValueTask WithinAsync<T>(ValueTask<T> send)
    {
        if (send.IsCompletedSuccessfully)
        {
            return;
        }

        await WithinAsync((Task)send.AsTask());
    }

    private async Task WithinAsync(Task send)
    {
        try
        {
            await send.WaitAsync(timeout, time);
        }
        catch (TimeoutException)
        {
            Log.Stalled(logger, requestId, timeout.TotalSeconds);
            // The abandoned send ends once the connection is cut; its outcome no longer matters.
            _ = send.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            stalled();
            throw new OperationCanceledException("The client stopped reading the stream.", aborted);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Stream {RequestId} ended as client_disconnected: the client took nothing for {Seconds} s")]
        public static partial void Stalled(ILogger logger, string requestId, double seconds);
    }
}
