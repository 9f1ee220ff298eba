using RelayCluster.Core.Auth;
using RelayCluster.Core.Batches;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Files;
using RelayCluster.Core.Routing;

namespace RelayCluster.Silo.Batches;

/// <summary>
/// Runs the items of one leased chunk: reads its lines from the input file (from the chunk's first byte, one
/// line at a time), skips items that already ended (a taken-over chunk), and starts each remaining item when
/// the silo has an item slot free. The task is completed only when every item it started has ended; a lost
/// lease or a stop hands the rest to another worker. Whatever an item throws is that item's failure (an error line),
/// never the chunk's. Each running chunk may fill only its share of the item slots (all of them divided by the chunks
/// running), so a chunk that starts while others run gets slots as soon as their items end, whoever's they are.
/// </summary>
internal sealed partial class ChunkRunner(
    IBatchStore store, IFileStore files, ITenantDirectory directory, BatchItemRunner items, PartFiles parts, RelayOptions options,
    TimeProvider time, ILogger<ChunkRunner> logger)
{
    private readonly SemaphoreSlim _itemSlots = new(options.Batches.MaxConcurrentItems, options.Batches.MaxConcurrentItems);
    private int _runningChunks;

    public async Task<ChunkOutcome> RunAsync(BatchLease lease, BatchState batch, CancellationToken stopping)
    {
        if (BatchStatus.IsFinal(batch.Status))
        {
            return ChunkOutcome.Done; // the batch ended early (failed, or a cancel that had nothing left to wait for)
        }

        Interlocked.Increment(ref _runningChunks);
        try
        {
            return await RunItemsAsync(lease, batch, stopping);
        }
        finally
        {
            Interlocked.Decrement(ref _runningChunks);
        }
    }

    private int ItemShare() => Math.Max(1, options.Batches.MaxConcurrentItems / Math.Max(1, Volatile.Read(ref _runningChunks)));

    private async Task<ChunkOutcome> RunItemsAsync(BatchLease lease, BatchState batch, CancellationToken stopping)
    {
        if (await store.GetChunkAsync(lease.TenantId, lease.BatchId, lease.Chunk) is not { } chunk)
        {
            return ChunkOutcome.Done; // nothing to run (the batch is gone)
        }

        var ended = await store.EndedItemsAsync(lease.TenantId, lease.BatchId, chunk.FirstLine, chunk.Count);
        if (ended.Count == chunk.Count)
        {
            return ChunkOutcome.Done;
        }

        var entry = await directory.GetAsync(lease.TenantId);
        var tenant = new Tenant(lease.TenantId, new ModelPatterns(entry?.Models ?? []));
        await using var part = parts.Open(lease.TenantId, lease.BatchId, chunk.Index, lease.LeaseId);
        var run = new BatchRun(batch, lease, tenant, BatchValidator.OperationOf(batch.Endpoint)!.Value, part, time, stopping);
        await using var input = await files.OpenReadAsync(lease.TenantId, batch.InputFileId, stopping)
            ?? throw new InvalidOperationException($"The input file {batch.InputFileId} of {batch.Id} is gone.");
        input.Seek(chunk.Offset, SeekOrigin.Begin);
        using var reader = new JsonlReader(input, chunk.Offset);

        var running = new List<Task>();
        var faulted = 0;
        var interrupted = 0;
        var cutShort = false;
        using var renewing = new LeaseKeeper(store, lease, options.Batches.LeaseSeconds, time, () => run.LeaseLost = true);
        var item = chunk.FirstLine;
        while (item < chunk.FirstLine + chunk.Count && await reader.ReadLineAsync(options.Requests.MaxBodyBytes, stopping) is { } next)
        {
            if (next.Line.IsEmpty)
            {
                continue; // blank lines are not items (validation skipped them too)
            }

            var index = item++;
            if (ended.ContainsKey(index))
            {
                continue;
            }

            while (run.InFlight >= ItemShare())
            {
                await run.WaitForAnItemAsync(stopping);
            }

            await _itemSlots.WaitAsync(stopping);
            if (!run.MayStartItems)
            {
                _itemSlots.Release();
                cutShort = true;
                break;
            }

            var line = next.Line.ToArray();
            run.ItemStarted();
            running.Add(Task.Run(async () =>
            {
                try
                {
                    await items.RunAsync(run, index, line);
                }
                catch (RelayCluster.Core.Tenants.StoreUnavailableException)
                {
                    Interlocked.Increment(ref interrupted); // the store went away: the item is not at fault, and runs again
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stopping.IsCancellationRequested)
                {
                    // Not the chunk's failure: retrying the chunk would meet the same line again, and again.
                    Log.ItemFailed(logger, batch.Id, index, ex);
                    if (!await items.FailAsync(run, index, line))
                    {
                        Interlocked.Increment(ref faulted);
                    }
                }
                catch (OperationCanceledException)
                {
                    Interlocked.Increment(ref interrupted); // stopping: the item is left for whoever takes the chunk
                }
                finally
                {
                    _itemSlots.Release();
                    run.ItemEnded();
                }
            }, CancellationToken.None));
        }

        await Task.WhenAll(running);
        return run.LeaseLost ? ChunkOutcome.LeaseLost
            : run.BatchEnded ? ChunkOutcome.Done
            : faulted > 0 || (!cutShort && item != chunk.FirstLine + chunk.Count) ? ChunkOutcome.Faulted // or the input has fewer lines than validated
            : interrupted > 0 || stopping.IsCancellationRequested || cutShort ? ChunkOutcome.Interrupted
            : ChunkOutcome.Done;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Error, Message = "Item {Item} of {BatchId} failed unexpectedly; it ends as a failed request")]
        public static partial void ItemFailed(ILogger logger, string batchId, int item, Exception exception);
    }
}

internal enum ChunkOutcome
{
    /// <summary>Every item of the chunk has ended: the task is done.</summary>
    Done,
    /// <summary>Another worker holds the chunk now; it is theirs to finish.</summary>
    LeaseLost,
    /// <summary>Items were left that could not even be recorded as failed: the chunk must run again, and this attempt counts.</summary>
    Faulted,
    /// <summary>Items were left because the silo is stopping or the store was unavailable: not the chunk's fault, so no attempt is spent.</summary>
    Interrupted,
}

/// <summary>Renews a lease in the background while its task runs, and says when it was lost.</summary>
internal sealed class LeaseKeeper : IDisposable
{
    private readonly CancellationTokenSource _stop = new();

    public LeaseKeeper(IBatchStore store, BatchLease lease, double leaseSeconds, TimeProvider time, Action lost)
    {
        var every = TimeSpan.FromSeconds(leaseSeconds / 3);
        _ = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    await Task.Delay(every, time, _stop.Token);
                    try
                    {
                        if (!await store.RenewAsync(lease))
                        {
                            lost();
                            return;
                        }
                    }
                    catch (RelayCluster.Core.Tenants.StoreUnavailableException)
                    {
                        // Try again next round; if Redis stays away the lease expires and the task moves on.
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        });
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }
}
