using RelayCluster.Core.Auth;
using RelayCluster.Core.Wire;

namespace RelayCluster.Silo.Batches;

/// <summary>
/// One chunk's run as its items see it: the batch's tenant and operation, and the gate every attempt passes before it
/// calls the upstream. The gate closes for good when the chunk is stopped (the batch is cancelled or failed) or the
/// batch's completion window closes; an item that meets it closed ends with <see cref="EndReason"/> instead.
/// </summary>
internal sealed class BatchRun(ChunkWork work, Tenant tenant, RelayOperation operation, TimeProvider time, CancellationToken stopping)
{
    private volatile string? _stopReason = work.StopReason;

    public ChunkWork Work => work;

    public Tenant Tenant => tenant;

    public RelayOperation Operation => operation;

    /// <summary>Cancelled when the activation goes away (the silo stops): unfinished items are left for the chunk's next run.</summary>
    public CancellationToken Stopping => stopping;

    public long Now => time.GetUtcNow().ToUnixTimeSeconds();

    /// <summary>Closes the gate: no attempt passes it after this returns.</summary>
    public void Stop(string reason) => _stopReason ??= reason;

    /// <summary>Why an item must end without running (an OpenAI error code), or null if it may run.</summary>
    public string? EndReason() => _stopReason ?? (Now >= work.ExpiresAt ? "batch_expired" : null);

    /// <summary>Waits before a retry, but no longer than the batch may still run, and never past a stop of the silo.</summary>
    public async Task DelayAsync(TimeSpan wait)
    {
        var left = TimeSpan.FromSeconds(Math.Max(0, work.ExpiresAt - Now));
        await Task.Delay(wait < left ? wait : left, time, stopping);
    }
}

/// <summary>How one item ended: its line for the output or error file, and the final call's usage to book (null if none).</summary>
internal sealed record ItemResult(Core.Batches.ItemOutcome Outcome, byte[] Line, Core.Tenants.Settlement? Settlement, bool Expired = false);

/// <summary>Runs one batch item to its end. The chunk grain decides and books the end; the executor only produces it.</summary>
internal interface IBatchItemExecutor
{
    /// <summary>
    /// Runs the item (retrying what may succeed later) and returns its end. An item that meets the closed gate ends with
    /// its reason without an upstream call. Throws only for a fault of the relay (the chunk ends the item as failed) or
    /// when the silo stops (the item runs again).
    /// </summary>
    Task<ItemResult> RunAsync(BatchRun run, int item, byte[] line);
}
