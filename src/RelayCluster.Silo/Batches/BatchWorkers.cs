using RelayCluster.Core.Batches;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Silo.Batches;

/// <summary>
/// Every silo's batch workers: lease a task (validate a batch, run a chunk, finalize a batch) whenever a chunk
/// slot is free, run it while keeping its lease, then complete it, or hand it back when stopping. Idle workers
/// wait for a work notice or poll, which is also how a dead silo's expired leases are found and taken over.
/// </summary>
internal sealed partial class BatchWorkers(
    IBatchStore store, BatchWorkSignal signal, BatchValidation validation, ChunkRunner chunks, BatchFinalizer finalizer, BatchProgress progress,
    RelayOptions options, TimeProvider time, ILogger<BatchWorkers> logger) : BackgroundService
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(500);

    private readonly string _worker = "w" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6));

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        if (!options.Batches.RunWorkers)
        {
            return;
        }

        var slots = new SemaphoreSlim(options.Batches.MaxConcurrentChunks, options.Batches.MaxConcurrentChunks);
        var leaseTime = TimeSpan.FromSeconds(options.Batches.LeaseSeconds);
        var running = new List<Task>();
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                await slots.WaitAsync(stopping);
                BatchLease? lease = null;
                try
                {
                    lease = await store.LeaseAsync(_worker, leaseTime);
                }
                catch (StoreUnavailableException ex)
                {
                    Log.LeaseFailed(logger, ex);
                }

                if (lease is null)
                {
                    slots.Release();
                    await signal.WaitAsync(Poll, time, stopping);
                    continue;
                }

                running.RemoveAll(t => t.IsCompleted);
                running.Add(Task.Run(async () =>
                {
                    try
                    {
                        await RunTaskAsync(lease, stopping);
                    }
                    finally
                    {
                        slots.Release();
                    }
                }, CancellationToken.None));
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }

        await Task.WhenAll(running);
    }

    private async Task RunTaskAsync(BatchLease lease, CancellationToken stopping)
    {
        var done = false;
        var lost = false;
        var failed = false;
        try
        {
            var batch = await store.GetAsync(lease.TenantId, lease.BatchId);
            if (batch is null)
            {
                done = true;
            }
            else if (lease.Kind == BatchTaskKind.RunChunk)
            {
                var outcome = await chunks.RunAsync(lease, batch, stopping);
                (done, lost, failed) = (outcome == ChunkOutcome.Done, outcome == ChunkOutcome.LeaseLost, outcome == ChunkOutcome.Faulted);
            }
            else
            {
                using var keeper = new LeaseKeeper(store, lease, options.Batches.LeaseSeconds, time, () => { });
                await (lease.Kind == BatchTaskKind.Validate ? validation.RunAsync(batch, stopping) : finalizer.RunAsync(batch, stopping));
                done = true;
            }

            if (await store.GetAsync(lease.TenantId, lease.BatchId) is { } after)
            {
                await progress.PublishAsync(after, force: lease.Kind != BatchTaskKind.RunChunk);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stopping.IsCancellationRequested)
        {
            Log.TaskFailed(logger, lease.Kind, lease.BatchId, ex);
            failed = true;
        }
        catch (OperationCanceledException)
        {
            // Stopping: handed back below.
        }

        try
        {
            if (done)
            {
                await store.CompleteTaskAsync(lease);
            }
            else if (!lost)
            {
                if (failed && !stopping.IsCancellationRequested)
                {
                    // Not at once: a task that fails every time must not spin through the workers.
                    await Task.Delay(TimeSpan.FromSeconds(options.Batches.LeaseSeconds), time, stopping).ContinueWith(_ => { }, TaskScheduler.Default);
                }

                await store.ReleaseAsync(lease); // another worker (or this one, later) takes it over
            }
        }
        catch (StoreUnavailableException ex)
        {
            Log.LeaseFailed(logger, ex); // the lease expires and is taken over
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Leasing batch work failed: the store is unavailable")]
        public static partial void LeaseFailed(ILogger logger, Exception exception);

        [LoggerMessage(Level = LogLevel.Error, Message = "Batch task {Kind} of {BatchId} failed; it is handed back for a retry")]
        public static partial void TaskFailed(ILogger logger, BatchTaskKind kind, string batchId, Exception exception);
    }
}
