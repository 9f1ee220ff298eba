namespace RelayCluster.Core.Batches;

/// <summary>
/// Wakes idle batch workers when work may have been queued (in-process, or from a pub/sub notice in the
/// cluster). A notice is only a hint: workers also poll, since a dead silo's leases expire without one.
/// </summary>
public sealed class BatchWorkSignal
{
    private TaskCompletionSource _signal = New();

    public void Notify() => Interlocked.Exchange(ref _signal, New()).TrySetResult();

    /// <summary>Completes at the next notice or after <paramref name="timeout"/>, whichever is first.</summary>
    public async Task WaitAsync(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        try
        {
            await Volatile.Read(ref _signal).Task.WaitAsync(timeout, time, cancellationToken);
        }
        catch (TimeoutException)
        {
            // A poll: leases may have expired with nobody to announce it.
        }
    }

    private static TaskCompletionSource New() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
