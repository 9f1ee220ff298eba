using System.Text;
using System.Text.Json;
using RelayCluster.Core.Batches;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;
using RelayCluster.Silo.Relay;

namespace RelayCluster.Silo.Batches;

/// <summary>
/// Runs one batch item through the same path as an interactive call (validation, routing, admission in the
/// batch lane at the batch price, metering), retrying what may succeed later:
/// <code>
///  end reason (cancelling, expired)? ─► error line (batch_cancelled | batch_expired), no upstream call
///  admission refused for capacity (rate, tokens, slots) ─► wait its Retry-After, try again (no attempt used)
///  admission refused otherwise (budget, unknown model) ─► error line with that status
///  upstream 2xx ─► output line                    upstream 408/409/429/5xx or unreachable ─► book this attempt,
///  upstream other 4xx ─► error line                  back off (honouring Retry-After) and retry, up to MaxAttempts
/// </code>
/// The line is written before the item's end is recorded, and the end books the final attempt's usage in the
/// same turn; a worker that dies in between leaves a line no one counts, and the item is run again.
/// </summary>
internal sealed partial class BatchItemRunner(
    ModelCalls calls, IBatchStore store, BatchProgress progress, RelayOptions options, TimeProvider time, ILogger<BatchItemRunner> logger)
{
    private readonly BatchOptions _batches = options.Batches;
    private readonly CallLane _lane = new("batch", options.Batches.PriceFactor, options.Batches.CapacityShare);

    public async Task RunAsync(BatchRun run, int item, byte[] line)
    {
        var (customId, body) = Parse(line);
        var attempt = 0;
        while (true)
        {
            if (run.EndReason() is { } reason)
            {
                var message = reason switch
                {
                    "batch_expired" => "This request could not be executed before the completion window expired.",
                    "batch_failed" => "This request was not executed because the batch failed.",
                    _ => "This request was not executed because the batch was cancelled.",
                };
                await EndAsync(run, item, ItemOutcome.Failed, BatchLines.Error(customId, reason, message), null, expired: reason == "batch_expired");
                return;
            }

            var requestId = "req_" + Guid.NewGuid().ToString("N");
            var start = await calls.StartAsync(run.Tenant, run.Operation, body, requestId, _lane);
            if (start.Call is not { } call)
            {
                var refusal = start.Refusal!;
                if (refusal.Status == 429 && refusal.RetryAfter is { } wait && wait > TimeSpan.Zero)
                {
                    await run.DelayAsync(wait); // the tenant's capacity is in use: wait for it, as interactive calls come first
                    continue;
                }

                await EndAsync(run, item, ItemOutcome.Failed, BatchLines.Response(customId, refusal.Status, requestId, BufferedCall.ErrorBody(refusal)), null);
                return;
            }

            using (call)
            {
                CallAnswer answer;
                try
                {
                    // Each attempt may hold one answer of at most MaxResponseBytes; a larger one is this item's error.
                    answer = await BufferedCall.RunAsync(call, ResponseBudget.ForCall(options.Requests.MaxResponseBytes), run.Stopping);
                }
                catch
                {
                    // Whatever went wrong, the admission must not outlive the call (a no-op if it was settled).
                    await call.Admitted.SettleAsync(Endings.RelayError, 500);
                    throw;
                }

                attempt++;
                if (!answer.IsSuccess && IsRetryable(answer) && attempt < _batches.MaxAttempts)
                {
                    if (answer.Settlement is { } failedAttempt)
                    {
                        await call.Admitted.BookAsync(failedAttempt); // a real call that failed: booked as itself
                    }

                    await run.DelayAsync(Backoff(attempt, answer.Error?.RetryAfter));
                    continue;
                }

                var outcome = answer.IsSuccess ? ItemOutcome.Succeeded : ItemOutcome.Failed;
                await EndAsync(run, item, outcome, BatchLines.Response(customId, answer.Status, requestId, answer.Body), answer.Settlement);
                return;
            }
        }
    }

    /// <summary>
    /// Ends an item whose run threw (a line or a fault the runner did not expect) as a failed request with an error
    /// line, so one bad line fails only itself and never its chunk. False if even that could not be recorded.
    /// </summary>
    public async Task<bool> FailAsync(BatchRun run, int item, byte[] line)
    {
        try
        {
            var error = BatchLines.Error(CustomIdOf(line), "request_failed", "The relay could not process this request.");
            await EndAsync(run, item, ItemOutcome.Failed, error, null);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.FailRecordFailed(logger, run.Batch.Id, item, ex);
            return false;
        }
    }

    public static bool IsRetryable(int status) => status is 408 or 409 or 429 or >= 500;

    /// <summary>
    /// Whether an attempt's failure may pass on a retry: an answer too large for the relay would be as large again
    /// (and billed again), so it is not retried whatever its status.
    /// </summary>
    private static bool IsRetryable(CallAnswer answer) =>
        IsRetryable(answer.Status) && answer.Error?.ShouldRetry is not false;

    /// <summary>Exponential backoff with full jitter, or the upstream's Retry-After when it gave one.</summary>
    private TimeSpan Backoff(int attempt, TimeSpan? retryAfter)
    {
        if (retryAfter is { } wait && wait > TimeSpan.Zero)
        {
            return wait;
        }

        var ceiling = Math.Min(_batches.RetryMaxMs, _batches.RetryBaseMs * Math.Pow(2, attempt - 1));
        return TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * ceiling);
    }

    private async Task EndAsync(BatchRun run, int item, ItemOutcome outcome, byte[] line, Settlement? settlement, bool expired = false)
    {
        await run.Part.AppendAsync(item, line);
        var end = new ItemEnd(item, outcome, run.Lease.LeaseId, settlement?.Record.PromptTokens ?? 0, settlement?.Record.CompletionTokens ?? 0, expired);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var recorded = await store.EndItemAsync(run.Batch.TenantId, run.Batch.Id, end, settlement, run.Now);
                run.Observe(recorded.Status);
                await progress.PublishAsync(run.Batch with
                {
                    Status = recorded.Status, Completed = recorded.Completed, Failed = recorded.Failed, Total = recorded.Total,
                });
                return;
            }
            catch (StoreUnavailableException ex) when (attempt < 10)
            {
                // Recording is idempotent (a lost reply's retry is a no-op), so retrying cannot count twice.
                Log.EndRetry(logger, run.Batch.Id, item, ex);
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), time, CancellationToken.None);
            }
        }
    }

    private static (string CustomId, byte[] Body) Parse(byte[] line)
    {
        using var document = JsonDocument.Parse(line);
        var root = document.RootElement;
        return (root.GetProperty("custom_id").GetString()!, Encoding.UTF8.GetBytes(root.GetProperty("body").GetRawText()));
    }

    /// <summary>The line's custom_id, or an empty one if even that cannot be read (validation makes that unlikely).</summary>
    private static string CustomIdOf(byte[] line)
    {
        try
        {
            using var document = JsonDocument.Parse(line);
            return document.RootElement.TryGetProperty("custom_id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString()! : "";
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return "";
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Recording item {Item} of {BatchId} as failed did not succeed; its chunk will run it again")]
        public static partial void FailRecordFailed(ILogger logger, string batchId, int item, Exception exception);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Recording the end of item {Item} of {BatchId} failed; retrying")]
        public static partial void EndRetry(ILogger logger, string batchId, int item, Exception exception);
    }
}
