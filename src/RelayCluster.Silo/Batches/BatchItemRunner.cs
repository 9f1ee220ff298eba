using System.Text;
using System.Text.Json;
using RelayCluster.Core.Batches;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;
using RelayCluster.Core.Wire;
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
/// The gate is passed twice per attempt: before admission, and after it, just before the upstream call, so an item
/// admitted while its chunk was stopped releases its admission and never calls. The chunk grain records the end.
/// </summary>
internal sealed class BatchItemRunner(ModelCalls calls, ITenantGrainFactory tenants, RelayOptions options) : IBatchItemExecutor
{
    /// <summary>How often an item waiting out a pause, or a budget held by requests in flight, asks again.</summary>
    private static readonly TimeSpan RecheckEvery = TimeSpan.FromMilliseconds(200);

    private readonly BatchOptions _batches = options.Batches;
    private readonly CallLane _lane = new("batch", options.Batches.PriceFactor, options.Batches.CapacityShare);

    public async Task<ItemResult> RunAsync(BatchRun run, int item, byte[] line)
    {
        var (customId, body) = Parse(line);
        var attempt = 0;
        while (true)
        {
            if (run.EndReason() is { } reason)
            {
                return Unrun(customId, reason);
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

                if (await MayPassLaterAsync(run, refusal))
                {
                    await run.DelayAsync(RecheckEvery);
                    continue;
                }

                return new ItemResult(ItemOutcome.Failed, BatchLines.Response(customId, refusal.Status, requestId, BufferedCall.ErrorBody(refusal)), null);
            }

            using (call)
            {
                if (run.EndReason() is { } closed)
                {
                    // Stopped while this attempt was admitted: nothing reached the upstream, so nothing is booked.
                    await call.Admitted.ReleaseAsync();
                    return Unrun(customId, closed);
                }

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
                return new ItemResult(outcome, BatchLines.Response(customId, answer.Status, requestId, answer.Body), answer.Settlement);
            }
        }
    }

    /// <summary>The end of an item that did not run: the gate was closed (cancelled, failed, or the window closed).</summary>
    public static ItemResult Unrun(string customId, string reason)
    {
        var message = reason switch
        {
            "batch_expired" => "This request could not be executed before the completion window expired.",
            "batch_failed" => "This request was not executed because the batch failed.",
            _ => "This request was not executed because the batch was cancelled.",
        };
        return new ItemResult(ItemOutcome.Failed, BatchLines.Error(customId, reason, message), null, Expired: reason == "batch_expired");
    }

    /// <summary>
    /// The end of an item whose run threw (a line or a fault the runner did not expect): a failed request with an error
    /// line, so one bad line fails only itself and never its chunk.
    /// </summary>
    public static ItemResult Faulted(byte[] line) =>
        new(ItemOutcome.Failed, BatchLines.Error(CustomIdOf(line), "request_failed", "The relay could not process this request."), null);

    /// <summary>
    /// Whether a refusal is one that passes by itself, so the item waits (until the batch's window closes) instead of
    /// failing: a pause (an administrator resumes the tenant), or a budget that is not spent but held by requests in
    /// flight (their settles free what they did not use). A budget that is spent fails the item.
    /// </summary>
    private async Task<bool> MayPassLaterAsync(BatchRun run, RelayError refusal)
    {
        if (refusal.Error.Code == "tenant_paused")
        {
            return true;
        }

        if (refusal.Error.Code != "insufficient_quota")
        {
            return false;
        }

        try
        {
            var quota = await tenants.GetTenant(run.Tenant.Id).GetQuotaAsync();
            return quota.ReservedNanos > 0 && quota.Limits.MonthlyBudgetNanos is { } budget && quota.SpentNanos < budget;
        }
        catch (StoreUnavailableException)
        {
            return true; // unknown now: ask again after the wait
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

    private static (string CustomId, byte[] Body) Parse(byte[] line)
    {
        using var document = JsonDocument.Parse(line);
        var root = document.RootElement;
        return (root.GetProperty("custom_id").GetString()!, Encoding.UTF8.GetBytes(root.GetProperty("body").GetRawText()));
    }

    /// <summary>The line's custom_id, or an empty one if even that cannot be read (validation makes that unlikely).</summary>
    public static string CustomIdOf(byte[] line)
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

}
