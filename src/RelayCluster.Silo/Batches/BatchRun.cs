using RelayCluster.Core.Auth;
using RelayCluster.Core.Batches;
using RelayCluster.Core.Wire;

namespace RelayCluster.Silo.Batches;

/// <summary>
/// One leased chunk while it runs: the batch it belongs to, where its lines go, and whether it should stop
/// starting items (the batch is being cancelled, its window closed, the lease was lost, or the silo stops).
/// </summary>
internal sealed class BatchRun(
    BatchState batch, BatchLease lease, Tenant tenant, RelayOperation operation, PartWriter part, TimeProvider time, CancellationToken stopping)
{
    private readonly SemaphoreSlim _itemEnded = new(0);
    private volatile string _status = batch.Status;
    private int _inFlight;

    public BatchState Batch => batch;

    public BatchLease Lease => lease;

    public Tenant Tenant => tenant;

    public RelayOperation Operation => operation;

    public PartWriter Part => part;

    public CancellationToken Stopping => stopping;

    /// <summary>Set when renewing the lease failed: another worker has the chunk now.</summary>
    public bool LeaseLost { get; set; }

    /// <summary>Takes the batch status from the latest turn that reported it (an item's end, a periodic read).</summary>
    public void Observe(string status) => _status = status;

    /// <summary>Why an item must end without running (an OpenAI error code), or null if it may run.</summary>
    public string? EndReason() =>
        _status is BatchStatus.Cancelling or BatchStatus.Cancelled ? "batch_cancelled"
        : _status == BatchStatus.Failed ? "batch_failed"
        : time.GetUtcNow().ToUnixTimeSeconds() >= batch.ExpiresAt ? "batch_expired"
        : null;

    /// <summary>The batch ended while this chunk ran (a task of it was given up on): nothing more is started.</summary>
    public bool BatchEnded => BatchStatus.IsFinal(_status);

    public bool MayStartItems => !LeaseLost && !stopping.IsCancellationRequested && !BatchEnded;

    /// <summary>Items of this chunk started and not yet ended.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    public void ItemStarted() => Interlocked.Increment(ref _inFlight);

    public void ItemEnded()
    {
        Interlocked.Decrement(ref _inFlight);
        _itemEnded.Release();
    }

    /// <summary>Completes when an item of this chunk ends (at once if one ended since the last wait).</summary>
    public Task WaitForAnItemAsync(CancellationToken cancellationToken) => _itemEnded.WaitAsync(cancellationToken);

    public long Now => time.GetUtcNow().ToUnixTimeSeconds();

    /// <summary>Waits before a retry, but no longer than the batch may still run, and never past a stop.</summary>
    public async Task DelayAsync(TimeSpan wait)
    {
        var left = TimeSpan.FromSeconds(Math.Max(0, batch.ExpiresAt - Now));
        await Task.Delay(wait < left ? wait : left, time, stopping);
    }
}
