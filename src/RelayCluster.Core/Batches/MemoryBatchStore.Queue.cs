using System.Globalization;

namespace RelayCluster.Core.Batches;

/// <summary>
/// The in-process task queue: one queue per tenant, visited round-robin so one tenant's many tasks cannot starve
/// another's; failed tasks wait aside until their retry is due; every lease of a task counts as an attempt.
/// All under the store's one lock.
/// </summary>
public sealed partial class MemoryBatchStore
{
    private readonly Dictionary<string, Queue<QueuedTask>> _ready = new(StringComparer.Ordinal);
    private readonly List<string> _rotation = [];
    private readonly List<QueuedTask> _waiting = [];
    private readonly Dictionary<string, QueuedTask> _leased = new(StringComparer.Ordinal);
    private int _next;

    public ValueTask<BatchLease?> LeaseAsync(string worker, TimeSpan leaseTime, IReadOnlyCollection<string>? busyTenants = null)
    {
        lock (_turn)
        {
            PromoteDue();
            for (var i = 0; i < _rotation.Count; i++)
            {
                var at = (_next + i) % _rotation.Count;
                var tenant = _rotation[at];
                if (busyTenants?.Contains(tenant) == true)
                {
                    continue;
                }

                var queue = _ready[tenant];
                var task = queue.Dequeue();
                task.Attempts++;
                if (queue.Count == 0)
                {
                    _ready.Remove(tenant);
                    _rotation.RemoveAt(at);
                    _next = at; // the tenant after it moved into its place
                }
                else
                {
                    _next = at + 1;
                }

                _leased[task.EntryId] = task;
                var leaseId = "m" + (++_leases).ToString(CultureInfo.InvariantCulture);
                return ValueTask.FromResult<BatchLease?>(
                    new BatchLease(task.TenantId, task.BatchId, task.Kind, task.Chunk, leaseId, task.EntryId, task.Attempts, leaseTime));
            }

            return ValueTask.FromResult<BatchLease?>(null);
        }
    }

    public ValueTask<bool> RenewAsync(BatchLease lease) => ValueTask.FromResult(true);

    public ValueTask CompleteTaskAsync(BatchLease lease)
    {
        lock (_turn)
        {
            Forget(lease);
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask ReleaseAsync(BatchLease lease)
    {
        lock (_turn)
        {
            if (_leased.Remove(lease.EntryId, out var task))
            {
                task.Attempts--; // a graceful hand-back is not a failed attempt
                Ready(task);
            }
        }

        signal.Notify();
        return ValueTask.CompletedTask;
    }

    public ValueTask RetryLaterAsync(BatchLease lease, TimeSpan delay)
    {
        lock (_turn)
        {
            if (_leased.Remove(lease.EntryId, out var task))
            {
                task.DueAt = _time.GetUtcNow() + (delay < lease.LeaseTime ? delay : lease.LeaseTime);
                _waiting.Add(task);
            }
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<BatchState?> AbandonAsync(BatchLease lease, string errorsJson, long now)
    {
        lock (_turn)
        {
            Forget(lease);
            if (!_batches.TryGetValue((lease.TenantId, lease.BatchId), out var entry))
            {
                return ValueTask.FromResult<BatchState?>(null);
            }

            var before = entry.State.Status;
            entry.State = BatchOutcome.Abandon(entry.State, errorsJson, now);
            if (!BatchStatus.IsFinal(before))
            {
                entry.Chunks = [];
                entry.Ended.Clear();
                entry.Ended.TrimExcess();
            }

            return ValueTask.FromResult<BatchState?>(entry.State);
        }
    }

    /// <summary>Queues a new task of a batch (the caller holds the lock, then notifies the workers).</summary>
    private void Enqueue(string tenantId, string batchId, BatchTaskKind kind, int chunk)
    {
        var entryId = (++_leases).ToString(CultureInfo.InvariantCulture);
        Ready(new QueuedTask(tenantId, batchId, kind, chunk, entryId));
        if (_batches.TryGetValue((tenantId, batchId), out var entry))
        {
            entry.LiveTasks++;
        }
    }

    private void Ready(QueuedTask task)
    {
        if (!_ready.TryGetValue(task.TenantId, out var queue))
        {
            _ready[task.TenantId] = queue = new Queue<QueuedTask>();
            _rotation.Add(task.TenantId);
        }

        queue.Enqueue(task);
    }

    private void PromoteDue()
    {
        var now = _time.GetUtcNow();
        for (var i = _waiting.Count - 1; i >= 0; i--)
        {
            if (_waiting[i].DueAt <= now)
            {
                Ready(_waiting[i]);
                _waiting.RemoveAt(i);
            }
        }
    }

    /// <summary>The task is gone for good: its batch has one live task fewer.</summary>
    private void Forget(BatchLease lease)
    {
        if (_leased.Remove(lease.EntryId) && _batches.TryGetValue((lease.TenantId, lease.BatchId), out var entry))
        {
            entry.LiveTasks--;
        }
    }

    private sealed record QueuedTask(string TenantId, string BatchId, BatchTaskKind Kind, int Chunk, string EntryId)
    {
        /// <summary>Leases so far, this one included.</summary>
        public int Attempts { get; set; }

        public DateTimeOffset DueAt { get; set; }
    }
}
