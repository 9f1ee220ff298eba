using System.Text.Json;
using RelayCluster.Core.Auth;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Api;

namespace RelayCluster.Silo.Relay;

/// <summary>
/// Runs the requests of one synchronous batch, a bounded number at a time, each exactly as a single HTTP call
/// runs (validate, resolve, admit on the interactive lane, call, book), so a batch is neither cheaper nor able to
/// slip past a tenant's limits. Results come back in input order. Every admitted item is settled exactly once:
/// with its answer, as <c>client_disconnected</c> when the caller leaves, or as <c>relay_error</c> if the relay fails.
/// </summary>
internal sealed partial class SyncBatchRunner(ModelCalls calls, TimeProvider time, ILogger<SyncBatchRunner> logger)
{
    private static readonly RelayError StoreUnavailable = new(503, new OpenAiError(
        "The relay's state store is unavailable, so this request could not be admitted. Please try again shortly.",
        "server_error", null, "store_unavailable"), TimeSpan.FromSeconds(1));

    private static readonly RelayError InvalidUpstreamBody = new(502, new OpenAiError(
        "The upstream provider answered with a body that is not JSON.", "server_error", null, "upstream_invalid_response"));

    /// <summary>
    /// The results, by index. The answers together hold at most <paramref name="maxResponseBytes"/> (they wait here
    /// for input order): a request whose answer no longer fits gets 502 <c>response_too_large</c> instead. Throws <see cref="OperationCanceledException"/> when <paramref name="cancellationToken"/>
    /// fires, but only after every item already started has been settled (ForEachAsync waits for its workers).
    /// </summary>
    public async Task<SyncBatchResult[]> RunAsync(
        Tenant tenant, IReadOnlyList<SyncBatchItem> items, int concurrency, long maxResponseBytes, CancellationToken cancellationToken)
    {
        var budget = ResponseBudget.ForBatch(maxResponseBytes);
        var results = new SyncBatchResult[items.Count];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Min(concurrency, items.Count), CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(items, parallel, async (item, token) => results[item.Index] = await RunItemAsync(tenant, item, budget, token));
        return results;
    }

    private async Task<SyncBatchResult> RunItemAsync(Tenant tenant, SyncBatchItem item, ResponseBudget budget, CancellationToken cancellationToken)
    {
        var requestId = "req_" + Guid.NewGuid().ToString("N");
        var started = time.GetTimestamp();
        SyncBatchResult Answer(int status, byte[]? response, OpenAiError? error) =>
            new(item.Index, item.CustomId, requestId, status, time.GetElapsedTime(started).TotalMilliseconds, response, error);

        if (item.Refusal is { } refusal)
        {
            return Answer(refusal.Status, null, refusal.Error); // its param is a batch path already
        }

        // Nobody is left to read the answer: do not admit (and bill) a call that would be cancelled at once.
        cancellationToken.ThrowIfCancellationRequested();
        CallStart start;
        try
        {
            start = await calls.StartAsync(tenant, item.Operation, item.Body, requestId, CallLane.Interactive);
        }
        catch (StoreUnavailableException)
        {
            // Fails closed as a single call does (503, nothing admitted), for this item only.
            return Answer(StoreUnavailable.Status, null, StoreUnavailable.Error);
        }

        if (start.Call is not { } call)
        {
            return Answer(start.Refusal!.Status, null, InBatch(start.Refusal.Error, item.Index));
        }

        using (call)
        {
            try
            {
                var answer = await BufferedCall.RunAsync(call, budget, cancellationToken);
                if (answer.Settlement is { } settlement)
                {
                    await call.Admitted.BookAsync(settlement);
                }

                if (!answer.IsSuccess)
                {
                    return Answer(answer.Status, null, InBatch((answer.Error ?? RelayError.InternalError()).Error, item.Index));
                }

                // The body is embedded raw in the batch's answer, so it must be one JSON value or it would break
                // every other item's result too. The call is still billed: the upstream did the work.
                if (IsJson(answer.Body))
                {
                    return Answer(answer.Status, answer.Body, null);
                }

                budget.Release(answer.Body.Length); // dropped: no longer held
                return Answer(InvalidUpstreamBody.Status, null, InvalidUpstreamBody.Error);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // A relay bug in one item must not cost the caller the other answers; the finally settles it.
                Log.ItemFailed(logger, requestId, ex);
                return Answer(500, null, RelayError.InternalError().Error);
            }
            finally
            {
                // A no-op after any ending above; here only so that an unexpected exception cannot leak the slot.
                await call.Admitted.SettleAsync(Endings.RelayError, 500);
            }
        }
    }

    /// <summary>The error with its <c>param</c> as a path into the batch body, so it names the field the caller sent.</summary>
    private static OpenAiError InBatch(OpenAiError error, int index) =>
        error.Param is null ? error : error with { Param = $"requests[{index}].{error.Param}" };

    private static bool IsJson(byte[] body)
    {
        var reader = new Utf8JsonReader(body);
        try
        {
            return reader.Read() && reader.TrySkip() && !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Error, Message = "Batch item {RequestId} failed in the relay")]
        public static partial void ItemFailed(ILogger logger, string requestId, Exception exception);
    }
}

/// <summary>One request's outcome: the upstream's body on success, else an OpenAI error object.</summary>
internal sealed record SyncBatchResult(
    int Index, string? CustomId, string RequestId, int Status, double LatencyMs, byte[]? Response, OpenAiError? Error);
