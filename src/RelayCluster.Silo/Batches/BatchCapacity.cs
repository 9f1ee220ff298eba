using RelayCluster.Core.Configuration;

namespace RelayCluster.Silo.Batches;

/// <summary>
/// This silo's batch item slots (<c>MaxConcurrentItems</c>), shared by every chunk grain it holds, handed out fairly:
/// <list type="bullet">
/// <item>a free slot goes to whoever asks; a tenant alone on the silo may fill all but one (<c>MaxItemsPerTenant</c>), so
/// its batch runs at nearly full width;</item>
/// <item>when slots are short, a freed slot goes to the waiting tenant that holds the fewest (so a second tenant's batch
/// reaches an even share as fast as the first one's items end);</item>
/// <item>no tenant ever holds more than <c>MaxItemsPerTenant</c>, so another tenant's batch finds a slot even if every
/// call of the first one hangs.</item>
/// </list>
/// </summary>
internal sealed class BatchCapacity(RelayOptions options)
{
    private readonly Lock _lock = new();
    private readonly int _perTenant = options.Batches.ItemsPerTenant;
    private readonly Dictionary<string, int> _held = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Queue<Waiter>> _waiting = new(StringComparer.Ordinal);
    private int _free = options.Batches.MaxConcurrentItems;

    /// <summary>Waits for a slot for the tenant; dispose the answer to give it back.</summary>
    public Task<IDisposable> AcquireAsync(string tenantId, CancellationToken cancellationToken)
    {
        Waiter waiter;
        lock (_lock)
        {
            if (_free > 0 && _waiting.Count == 0 && Held(tenantId) < _perTenant)
            {
                _free--;
                _held[tenantId] = Held(tenantId) + 1;
                return Task.FromResult<IDisposable>(new Slot(this, tenantId));
            }

            waiter = new Waiter(tenantId);
            if (!_waiting.TryGetValue(tenantId, out var queue))
            {
                _waiting[tenantId] = queue = new Queue<Waiter>();
            }

            queue.Enqueue(waiter);
            GrantLocked(); // a slot may be free for this tenant though others wait (they are at their cap)
        }

        if (cancellationToken.CanBeCanceled)
        {
            waiter.Cancellation = cancellationToken.Register(() => Cancel(waiter));
        }

        return waiter.Granted.Task;
    }

    private int Held(string tenantId) => _held.GetValueOrDefault(tenantId);

    private void Release(string tenantId)
    {
        lock (_lock)
        {
            if (Held(tenantId) <= 1)
            {
                _held.Remove(tenantId);
            }
            else
            {
                _held[tenantId]--;
            }

            _free++;
            GrantLocked();
        }
    }

    /// <summary>Gives free slots to waiting tenants below their cap, the one holding the fewest first.</summary>
    private void GrantLocked()
    {
        while (_free > 0)
        {
            string? next = null;
            foreach (var tenant in _waiting.Keys)
            {
                if (Held(tenant) < _perTenant && (next is null || Held(tenant) < Held(next)))
                {
                    next = tenant;
                }
            }

            if (next is null)
            {
                return;
            }

            var queue = _waiting[next];
            var waiter = queue.Dequeue();
            if (queue.Count == 0)
            {
                _waiting.Remove(next);
            }

            _free--;
            _held[next] = Held(next) + 1;
            waiter.Cancellation.Unregister(); // not Dispose: that waits for a running callback, which waits for this lock
            if (!waiter.Granted.TrySetResult(new Slot(this, next)))
            {
                // Cancelled just now: the slot goes back.
                _free++;
                _held[next]--;
            }
        }
    }

    private void Cancel(Waiter waiter)
    {
        lock (_lock)
        {
            if (_waiting.TryGetValue(waiter.TenantId, out var queue) && queue.Contains(waiter))
            {
                var rest = queue.Where(w => w != waiter).ToList();
                if (rest.Count == 0)
                {
                    _waiting.Remove(waiter.TenantId);
                }
                else
                {
                    _waiting[waiter.TenantId] = new Queue<Waiter>(rest);
                }

                waiter.Granted.TrySetCanceled();
            }
        }
    }

    private sealed class Waiter(string tenantId)
    {
        public string TenantId => tenantId;

        public TaskCompletionSource<IDisposable> Granted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public CancellationTokenRegistration Cancellation { get; set; }
    }

    private sealed class Slot(BatchCapacity capacity, string tenantId) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                capacity.Release(tenantId);
            }
        }
    }
}
