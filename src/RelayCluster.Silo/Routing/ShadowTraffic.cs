using System.Text.Json.Nodes;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Routing;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Relay;
using RelayCluster.Upstreams;
using RelayCluster.Upstreams.Resilience;

namespace RelayCluster.Silo.Routing;

/// <summary>
/// Sends the shadow copy of a sampled request, never touching the caller's call: it starts on the thread
/// pool, holds one of <see cref="ShadowOptions.MaxConcurrent"/> slots (a request that finds none is not
/// shadowed, only counted), goes to the provider behind its resilience pipeline (no retries, and its
/// failures never open the breaker that real traffic relies on), and is never admitted nor settled, so
/// the tenant is never billed for it. Its usage is logged under the <c>shadow</c> account. Once both calls
/// have ended the comparison goes to the <see cref="ShadowLog"/>.
/// </summary>
internal sealed partial class ShadowTraffic(
    RelayOptions options, UpstreamProviders providers, ShadowLog log, TimeProvider time, ILogger<ShadowTraffic> logger)
{
    private readonly SemaphoreSlim _slots = new(options.Shadow.MaxConcurrent);
    private readonly TimeSpan _timeout = TimeSpan.FromSeconds(options.Shadow.TimeoutSeconds);

    /// <summary>Starts the shadow copy of a chat completion, or returns null (not a chat, or saturated).</summary>
    public ShadowRun? TryStart(string routeModel, ModelRoute target, RelayOperation operation, RelayRequest request, string requestId)
    {
        if (operation != RelayOperation.ChatCompletions)
        {
            return null;
        }

        if (!_slots.Wait(0))
        {
            log.Dropped(routeModel);
            return null;
        }

        // Cloned here, before the primary's body is rewritten for its own upstream; the copy is always
        // non-streaming (one body to compare).
        var body = request.Body.DeepClone().AsObject();
        body["model"] = target.UpstreamModel;
        body.Remove("stream");
        body.Remove("stream_options");
        var run = new ShadowRun(requestId);
        _ = Task.Run(() => RunAsync(routeModel, target, new UpstreamRequest(operation, body, false), run));
        return run;
    }

    private async Task RunAsync(string routeModel, ModelRoute target, UpstreamRequest request, ShadowRun run)
    {
        ShadowOutcome outcome;
        try
        {
            outcome = await SendAsync(target, request);
        }
        finally
        {
            _slots.Release();
        }

        try
        {
            var primary = await run.Ended.WaitAsync(_timeout, time);
            log.Record(routeModel, ShadowComparison.Of(run.RequestId, time.GetUtcNow(), primary, target.Model, outcome));
        }
        catch (TimeoutException)
        {
            Log.PrimaryNeverEnded(logger, run.RequestId);
        }
    }

    private async Task<ShadowOutcome> SendAsync(ModelRoute target, UpstreamRequest request)
    {
        var provider = providers.Get(target.ProviderId);
        var direct = (provider as ResilientProvider)?.Inner ?? provider;
        var started = time.GetTimestamp();
        using var timeout = new CancellationTokenSource(_timeout, time);
        try
        {
            await using var response = await direct.SendAsync(request, timeout.Token);
            var body = await BufferedRelay.ReadAllAsync(response.Body, timeout.Token);
            var latency = time.GetElapsedTime(started).TotalMilliseconds;
            if (!response.IsSuccess)
            {
                return new ShadowOutcome(response.StatusCode, latency, null, null);
            }

            if (UpstreamAnswers.ProblemWithBody(request.Operation, body) is { } problem)
            {
                return new ShadowOutcome(502, latency, null, problem.Message); // the same rule as the primary's answer
            }

            var usage = ChunkInspector.Inspect(body).Usage;
            if (usage is { } u)
            {
                Log.ShadowUsage(logger, target.UpstreamModel, target.Model, u.PromptTokens, u.CompletionTokens,
                    target.CostNanos(u.PromptTokens, u.CompletionTokens));
            }

            return new ShadowOutcome(200, latency, ShadowRun.ContentOf(body) ?? "", null);
        }
        catch (Exception ex) when (ex is UpstreamUnavailableException or HttpRequestException or IOException or OperationCanceledException)
        {
            return new ShadowOutcome(ex is OperationCanceledException ? 504 : 502, time.GetElapsedTime(started).TotalMilliseconds, null, ex.Message);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information,
            Message = "Shadow usage (account shadow, not billed): upstream {UpstreamModel} as {Model}, {PromptTokens} prompt + {CompletionTokens} completion tokens, {CostNanos} nano-USD")]
        public static partial void ShadowUsage(ILogger logger, string upstreamModel, string model, long promptTokens, long completionTokens, long costNanos);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Shadow of {RequestId}: its primary call never ended; no comparison")]
        public static partial void PrimaryNeverEnded(ILogger logger, string requestId);
    }
}

/// <summary>What the shadow call got: its status (502/504 if it failed to answer), latency and content.</summary>
internal sealed record ShadowOutcome(int Status, double LatencyMs, string? Content, string? Error);
