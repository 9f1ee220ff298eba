using RelayCluster.Core.Wire;

namespace RelayCluster.Silo.Relay;

/// <summary>
/// Where a streamed completion goes: an SSE response, or a SignalR stream started over the completions hub.
/// The streaming relay decides what to send and when to settle; a sink only knows how to deliver it.
/// </summary>
internal interface IStreamSink
{
    /// <summary>Fires when the receiver has gone away (the upstream call is cancelled with it).</summary>
    CancellationToken Aborted { get; }

    /// <summary>Whether the receiver has been told the call succeeded: from then on errors travel in the stream.</summary>
    bool IsCommitted { get; }

    /// <summary>Tells the receiver the call succeeded, before the first chunk.</summary>
    ValueTask CommitAsync();

    /// <summary>Called for every silent heartbeat interval while the upstream is quiet.</summary>
    ValueTask HeartbeatAsync();

    /// <summary>
    /// One upstream chunk, unchanged (its JSON bytes). A sink may hold it until <see cref="FlushAsync"/> (or the end of
    /// the stream), so that chunks that arrived together leave together.
    /// </summary>
    ValueTask WriteChunkAsync(ReadOnlyMemory<byte> payload);

    /// <summary>Sends every chunk written so far: called before the relay waits for the upstream's next event.</summary>
    ValueTask FlushAsync();

    /// <summary>The clean end of the stream (for SSE, <c>[DONE]</c>).</summary>
    ValueTask CompleteAsync();

    /// <summary>A failure: a status response if not committed, else an error in the stream.</summary>
    ValueTask FailAsync(RelayError error);
}
