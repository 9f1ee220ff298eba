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
/// Progress is a convenience: a failure to publish never fails the batch.
/// </summary>
internal sealed partial class BatchProgress(IStreamChannelFactory channels, RelayOptions options, TimeProvider time, ILogger<BatchProgress> logger)
{
    private readonly ConcurrentDictionary<string, (long At, string Status)> _last = new(StringComparer.Ordinal);

    public static string ChannelOf(string batchId) => "batch:" + batchId;

    /// <summary>Opens the batch's channel for its tenant (at creation), so only that tenant can subscribe.</summary>
    public ValueTask OpenAsync(string tenantId, string batchId) => channels.GetChannel(ChannelOf(batchId)).OpenAsync(tenantId);

    public async Task PublishAsync(BatchState batch, bool force = false)
    {
        var now = time.GetTimestamp();
        var changed = !_last.TryGetValue(batch.Id, out var last) || last.Status != batch.Status;
        if (!force && !changed && time.GetElapsedTime(last.At, now).TotalMilliseconds < options.Batches.ProgressIntervalMs)
        {
            return;
        }

        _last[batch.Id] = (now, batch.Status);
        var kind = batch.Status switch
        {
            BatchStatus.Failed => StreamEntryKind.Failed,
            BatchStatus.Completed or BatchStatus.Cancelled or BatchStatus.Expired => StreamEntryKind.Completed,
            _ => StreamEntryKind.Progress,
        };
        try
        {
            await channels.GetChannel(ChannelOf(batch.Id)).AppendAsync(kind, Encoding.UTF8.GetString(BatchJson.Serialize(batch)));
            if (kind != StreamEntryKind.Progress)
            {
                _last.TryRemove(batch.Id, out _);
            }
        }
        catch (InvalidOperationException)
        {
            // The channel has ended already: another silo published the end first.
        }
        catch (Exception ex) when (ex is RelayCluster.Core.Tenants.StoreUnavailableException)
        {
            Log.PublishFailed(logger, batch.Id, ex);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Progress of {BatchId} could not be published")]
        public static partial void PublishFailed(ILogger logger, string batchId, Exception exception);
    }
}
