using RelayCluster.Core.Batches;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Silo.Batches;

/// <summary>
/// Every silo's batch workers: lease a task (validate a batch, run a chunk, finalize a batch) whenever a chunk
/// slot is free, run it while keeping its lease, then complete it, or hand it back when stopping. Idle workers
/// wait for a work notice or poll, which is also how a dead silo's expired leases are found and taken over.
/// <code>
///  lease (tenants round-robin, skipping tenants holding their share of slots) ─► attempt > MaxTaskAttempts? ─► give up
///  run ─► done ─► complete            threw ─► last attempt? ─► give up: the batch fails (cancelling: cancelled)
///                                            └► retry later (the store holds it; the slot is freed at once)
/// </code>
/// A slot is held only while a task runs, never while a failed task waits for its retry.
/// </summary>
internal sealed partial class BatchWorkers(
    IBatchStore store, BatchWorkSignal signal, BatchValidation validation, ChunkRunner chunks, BatchFinalizer finalizer, BatchProgress progress,
    PartFiles parts, RelayOptions options, TimeProvider time, ILogger<BatchWorkers> logger) : BackgroundService
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(500);

    private readonly string _worker = "w" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6));
    private readonly TenantSlots _held = new(Math.Clamp(options.Batches.MaxConcurrentChunksPerTenant, 1, options.Batches.MaxConcurrentChunks));

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
                    lease = await store.LeaseAsync(_worker, leaseTime, _held.Busy());
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

                _held.Take(lease.TenantId);
                running.RemoveAll(t => t.IsCompleted);
                running.Add(Task.Run(async () =>
                {
                    try
                    {
                        await RunTaskAsync(lease, stopping);
                    }
                    finally
                    {
                        _held.Give(lease.TenantId);
                        slots.Release();
                        signal.Notify(); // a tenant skipped for its share may lease again
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
        if (lease.Attempt > options.Batches.MaxTaskAttempts)
        {
            // Leased that often without finishing (its workers died holding it): nothing suggests the next lease would do better.
            try
            {
                await GiveUpAsync(lease, null);
            }
            catch (StoreUnavailableException ex)
            {
                Log.LeaseFailed(logger, ex); // the lease expires, and the next worker gives up on it
            }

            return;
        }

        var done = false;
        var lost = false;
        Exception? failure = null;
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
                (done, lost) = (outcome == ChunkOutcome.Done, outcome == ChunkOutcome.LeaseLost);
                if (outcome == ChunkOutcome.Faulted && !stopping.IsCancellationRequested)
                {
                    failure = new InvalidOperationException("Items of the chunk could not be recorded.");
                }

                // Interrupted (a stop, a store outage): handed back below with its attempt, for any worker to take at once.
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
            failure = ex;
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
            else if (lost)
            {
                // Another worker holds it now.
            }
            else if (failure is null)
            {
                await store.ReleaseAsync(lease); // stopping: another worker (or this one, later) takes it over at once
            }
            else if (lease.Attempt >= options.Batches.MaxTaskAttempts)
            {
                await GiveUpAsync(lease, failure);
            }
            else
            {
                Log.TaskRetry(logger, lease.Kind, lease.BatchId, lease.Attempt, failure);
                await store.RetryLaterAsync(lease, Backoff(lease.Attempt));
            }
        }
        catch (StoreUnavailableException ex)
        {
            Log.LeaseFailed(logger, ex); // the lease expires and is taken over (and counted)
        }
    }

    /// <summary>Fails the task's batch (or ends its cancel) with an error naming the task, and drops the task.</summary>
    private async Task GiveUpAsync(BatchLease lease, Exception? failure)
    {
        Log.TaskAbandoned(logger, lease.Kind, lease.BatchId, lease.Attempt, failure);
        var task = lease.Kind switch
        {
            BatchTaskKind.Validate => "validating the input file",
            BatchTaskKind.RunChunk => $"running requests {lease.Chunk * options.Batches.ChunkSize + 1} onwards (chunk {lease.Chunk})",
            _ => "assembling the output files",
        };
        var attempts = Math.Min(lease.Attempt, options.Batches.MaxTaskAttempts);
        var errors = BatchValidation.Errors([new("batch_task_failed",
            $"The batch failed: {task} did not succeed in {attempts} attempts. No further attempts will be made.", null, null)]);
        var ended = await store.AbandonAsync(lease, errors, time.GetUtcNow().ToUnixTimeSeconds());
        if (ended is not null && BatchStatus.IsFinal(ended.Status))
        {
            parts.Delete(lease.TenantId, lease.BatchId);
            await progress.PublishAsync(ended, force: true);
        }
    }

    /// <summary>Exponential, from the item retry base, capped by the lease time (the store caps it there too).</summary>
    private TimeSpan Backoff(int attempt) =>
        TimeSpan.FromMilliseconds(Math.Min(options.Batches.LeaseSeconds * 1000, options.Batches.RetryBaseMs * Math.Pow(2, attempt - 1)));

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Leasing batch work failed: the store is unavailable")]
        public static partial void LeaseFailed(ILogger logger, Exception exception);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Batch task {Kind} of {BatchId} failed on attempt {Attempt}; it will be retried")]
        public static partial void TaskRetry(ILogger logger, BatchTaskKind kind, string batchId, int attempt, Exception exception);

        [LoggerMessage(Level = LogLevel.Error, Message = "Batch task {Kind} of {BatchId} was given up after {Attempt} attempts; the batch fails")]
        public static partial void TaskAbandoned(ILogger logger, BatchTaskKind kind, string batchId, int attempt, Exception? exception);
    }
}

/// <summary>
/// How many of this worker's slots each tenant holds, and which tenants hold their share (so the next lease skips
/// them and another tenant's work finds a slot).
/// </summary>
internal sealed class TenantSlots(int share)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _held = new(StringComparer.Ordinal);

    public IReadOnlyCollection<string> Busy()
    {
        lock (_lock)
        {
            return [.. _held.Where(h => h.Value >= share).Select(h => h.Key)];
        }
    }

    public void Take(string tenant)
    {
        lock (_lock)
        {
            _held[tenant] = _held.GetValueOrDefault(tenant) + 1;
        }
    }

    public void Give(string tenant)
    {
        lock (_lock)
        {
            if (--_held[tenant] == 0)
            {
                _held.Remove(tenant);
            }
        }
    }
}
