namespace RelayCluster.Core.Streams;

/// <summary>Stream retention and follower limits (configuration section <c>Relay:Streams</c>).</summary>
public sealed record StreamSettings
{
    /// <summary>Entries kept per stream, the oldest going first; a follower asking for a trimmed one gets a Gap notice.</summary>
    public int MaxEntries { get; init; } = 100_000;

    /// <summary>
    /// Live entries a follower may have pending before it is dropped with a Lagged notice. It also bounds what a
    /// late joiner may receive live while it replays its backlog, so it stays well above <see cref="ReadBatch"/>.
    /// </summary>
    public int SubscriberBuffer { get; init; } = 1024;

    /// <summary>Entries per store read.</summary>
    public int ReadBatch { get; init; } = 500;

    /// <summary>How long a shared reader waits for an append notice before reading anyway (a notice can be lost).</summary>
    public TimeSpan FallbackRead { get; init; } = TimeSpan.FromSeconds(1);

    public void Validate()
    {
        if (MaxEntries < 1 || SubscriberBuffer < 1 || ReadBatch < 1 || FallbackRead <= TimeSpan.Zero)
        {
            throw new InvalidOperationException("Relay:Streams: MaxEntries, SubscriberBuffer, ReadBatch and FallbackRead must be positive.");
        }
    }
}
