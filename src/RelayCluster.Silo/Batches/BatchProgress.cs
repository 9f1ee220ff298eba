using System.Collections.Concurrent;
using System.Text;
using RelayCluster.Core.Batches;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Streams;

namespace RelayCluster.Silo.Batches;

/// <summary>
/// Publishes a batch's progress to SignalR subscribers of <c>batch:{id}</c> (the token fan-out's channels):
/// a <c>progress</c> entry with the Batch object at most every <c>ProgressIntervalMs</c> per batch and silo,
/// at once on a status change, and a terminal <c>completed</c> (or <c>failed</c>) entry when the batch ends.
/// Progress is a convenience: a failure to publish never fails the batch. Each silo publishes what it sees,
/// in order; in a cluster the silos' entries interleave.
/// </summary>
internal sealed partial class BatchProgress(IStreamChannelFactory channels, RelayOptions options, TimeProvider time, ILogger<BatchProgress> logger)
{
    private readonly ConcurrentDictionary<string, Gate> _gates = new(StringComparer.Ordinal);

    /// <summary>Opens the batch's channel for its tenant (at creation), so only that tenant can subscribe.</summary>
    public ValueTask OpenAsync(string tenantId, string batchId) => channels.GetChannel(StreamIds.ForBatch(batchId)).OpenAsync(tenantId);

    public async Task PublishAsync(BatchState batch, bool force = false)
    {
        var gate = _gates.GetOrAdd(batch.Id, _ => new Gate());
        var kind = batch.Status switch
        {
            BatchStatus.Failed => StreamEntryKind.Failed,
            BatchStatus.Completed or BatchStatus.Cancelled or BatchStatus.Expired => StreamEntryKind.Completed,
            _ => StreamEntryKind.Progress,
        };

        // One publisher at a time per batch, so this silo's entries never go backwards (item tasks end concurrently).
        await gate.Lock.WaitAsync();
        try
        {
            var now = time.GetTimestamp();
            var ended = batch.Completed + batch.Failed;
            var changed = gate.Status != batch.Status;
            if (kind == StreamEntryKind.Progress && (ended < gate.Ended
                || !force && !changed && time.GetElapsedTime(gate.At, now).TotalMilliseconds < options.Batches.ProgressIntervalMs))
            {
                return;
            }

            (gate.At, gate.Status, gate.Ended) = (now, batch.Status, Math.Max(ended, gate.Ended));
            await channels.GetChannel(StreamIds.ForBatch(batch.Id)).AppendAsync(kind, Encoding.UTF8.GetString(BatchJson.Serialize(batch)));
            if (kind != StreamEntryKind.Progress)
            {
                _gates.TryRemove(batch.Id, out _);
            }
        }
        catch (InvalidOperationException)
        {
            // The channel has ended already: another silo published the end first.
        }
        catch (RelayCluster.Core.Tenants.StoreUnavailableException ex)
        {
            Log.PublishFailed(logger, batch.Id, ex);
        }
        finally
        {
            gate.Lock.Release();
        }
    }

    /// <summary>What this silo last published for a batch.</summary>
    private sealed class Gate
    {
        public SemaphoreSlim Lock { get; } = new(1, 1);

        public long At { get; set; }

        public string Status { get; set; } = "";

        public long Ended { get; set; }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Progress of {BatchId} could not be published")]
        public static partial void PublishFailed(ILogger logger, string batchId, Exception exception);
    }
}
