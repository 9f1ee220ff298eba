namespace RelayCluster.Core.Streams;

/// <summary>What a store gives the shared reader of a stream: reads after a sequence, and notice of appends.</summary>
public interface IStreamSource
{
    ValueTask<IReadOnlyList<StreamEntry>> ReadAsync(long afterSequence, int max);

    /// <summary>The sequence of the last entry appended so far (0 if none): where a new live feed starts.</summary>
    ValueTask<long> LastSequenceAsync();

    /// <summary>Starts watching for appends (in Redis: one pub/sub subscription) until the watch is disposed.</summary>
    ValueTask<IStreamWatch> WatchAsync();
}

public interface IStreamWatch : IAsyncDisposable
{
    /// <summary>
    /// A task that completes at the first append after this call. Taken before a read, so an append racing that
    /// read is never waited for in vain. May complete spuriously.
    /// </summary>
    Task NextAppend();
}
