using RelayCluster.Core.Configuration;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Streams;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Http;
using RelayCluster.Silo.Streams;

namespace RelayCluster.Silo.Relay;

/// <summary>
/// One /v1 model call over HTTP, step by step: read the body, start the call (validate, resolve, admit in one
/// tenant-grain turn, refusing before any upstream call), relay it buffered or streamed, and settle it
/// exactly once whatever the ending.
/// </summary>
internal sealed partial class RelayPipeline(
    RelayOptions options, ModelCalls calls, IStreamChannelFactory channels, TimeProvider time, ILogger<RelayPipeline> logger)
{
    private readonly TimeSpan _heartbeat = TimeSpan.FromSeconds(options.Requests.HeartbeatSeconds);

    public TimeSpan Heartbeat => _heartbeat;

    public async Task HandleAsync(HttpContext context, RelayOperation operation)
    {
        var tenant = context.Tenant();

        // 1. Body; 2. validation, model and admission.
        var (body, bodyError) = await BodyReader.ReadAsync(context.Request, options.Requests.MaxBodyBytes);
        if (bodyError is not null)
        {
            await ErrorResponses.WriteAsync(context, bodyError);
            return;
        }

        var start = await calls.StartAsync(tenant, operation, body, context.TraceIdentifier, CallLane.Interactive);
        if (start.Admission is { } admission)
        {
            RateLimitHeaders.Write(context.Response, admission.Window);
        }

        if (start.Call is not { } call)
        {
            await ErrorResponses.WriteAsync(context, start.Refusal!);
            return;
        }

        // 3. Relay, then 4. settle once, whatever the ending.
        using (call)
        {
            var sink = new HttpSink(context);
            RouteHeaders.WriteOnStart(context.Response, call.Admitted);
            await RunAsync(call, sink, () =>
            {
                if (operation == RelayOperation.ChatCompletions && context.Request.Headers["x-relay-fanout"] == "true")
                {
                    var fanOut = call.FanOut = FanOutWriter.Open(channels, tenant.Id, logger);
                    context.Response.Headers["x-relay-stream-id"] = fanOut.StreamId;
                    context.Response.OnStarting(() => fanOut.Opened);
                }

                return call.Stream
                    ? new StreamingRelay(sink, call.Admitted, _heartbeat, time, call.FanOut).RelayAsync(call)
                    : BufferedRelay.RelayAsync(context, call, options.Requests.MaxResponseBytes);
            });
        }
    }

    /// <summary>
    /// Runs a relay to its end and turns whatever escaped it into an ending: every call is settled exactly once
    /// and its fan-out stream (if any) ends, however it went.
    /// </summary>
    public async Task RunAsync(ModelCall call, IStreamSink sink, Func<Task> relay)
    {
        var admitted = call.Admitted;
        try
        {
            await relay();
        }
        catch (RelayCluster.Upstreams.UpstreamUnavailableException ex)
        {
            await admitted.SettleAsync(Endings.UpstreamError, 502);
            await sink.FailAsync(RelayError.UpstreamUnavailable(ex.Message));
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException && sink.Aborted.IsCancellationRequested)
        {
            // The receiver left; whatever broke afterwards broke because of that.
            await admitted.SettleAsync(Endings.ClientDisconnected, 499);
        }
        catch (Exception ex) when (ex is IOException or System.Net.Http.HttpRequestException)
        {
            Log.RelayFailed(logger, admitted.RequestId, ex);
            await admitted.SettleAsync(Endings.UpstreamError, 502);
            if (!sink.IsCommitted)
            {
                await sink.FailAsync(RelayError.UpstreamUnavailable("the upstream connection failed."));
            }
        }
        finally
        {
            // A no-op after any ending above; here only so that an unexpected exception cannot leak the slot.
            await admitted.SettleAsync(Endings.RelayError, 500);
            call.FanOut?.End(admitted.Ending ?? Endings.RelayError, admitted.Usage);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Relay of {RequestId} failed talking to the upstream")]
        public static partial void RelayFailed(ILogger logger, string requestId, Exception exception);
    }
}
