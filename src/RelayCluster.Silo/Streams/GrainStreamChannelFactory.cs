using RelayCluster.Core.Auth;
using RelayCluster.Core.Streams;

namespace RelayCluster.Silo.Streams;

/// <summary>
/// The stream channels of both stores: each stream is a <see cref="IStreamChannelGrain"/>, and this silo's followers
/// of one stream share one reader of it (<see cref="StreamFollowers"/>), which long-polls the grain for appends.
/// </summary>
internal sealed class GrainStreamChannelFactory(IGrainFactory grains, StreamSettings settings, TimeProvider time) : IStreamChannelFactory, ITenantDataPurge
{
    /// <summary>This silo's followers: one shared reader per followed stream.</summary>
    public StreamFollowers Followers { get; } = new(settings, time);

    public IStreamChannel GetChannel(string streamId) =>
        new GrainStreamChannel(streamId, grains.GetGrain<IStreamChannelGrain>(streamId), Followers, settings.MaxEntries, time);

    /// <summary>A deleted tenant's streams are forgotten: their ids find no owner, and their followers end.</summary>
    public Task PurgeAsync(string tenantId, CancellationToken cancellationToken = default) =>
        grains.GetGrain<ITenantStreamsGrain>(tenantId).PurgeAsync().WaitAsync(cancellationToken);
}

internal sealed class GrainStreamChannel(string streamId, IStreamChannelGrain grain, StreamFollowers followers, int maxEntries, TimeProvider time)
    : IStreamChannel, IStreamSource
{
    /// <summary>How long a read keeps asking a grain whose silo went away: membership declares a dead silo within seconds.</summary>
    private static readonly TimeSpan SiloLossPatience = TimeSpan.FromSeconds(20);

    private static readonly TimeSpan SiloLossRetry = TimeSpan.FromMilliseconds(200);

    public async ValueTask OpenAsync(string tenantId) => await grain.OpenAsync(tenantId, maxEntries);

    public async ValueTask<string?> OwnerAsync() => await AcrossSiloLossAsync(grain.OwnerAsync);

    public async ValueTask<long> AppendAsync(StreamEntryKind kind, string data)
    {
        StreamEntryKinds.EnsureAppendable(kind);
        return await grain.AppendAsync((int)kind, data);
    }

    public async ValueTask<IReadOnlyList<StreamEntry>> ReadAsync(long afterSequence, int max) =>
        Array.ConvertAll(await AcrossSiloLossAsync(() => grain.ReadAsync(afterSequence, max)), e => e.ToEntry());

    public async ValueTask<long> LastSequenceAsync() => await AcrossSiloLossAsync(grain.LastSequenceAsync);

    /// <summary>
    /// Asks again when the grain's silo went away under the call (refused connection, or declared dead while the call
    /// was out): once membership declares that silo dead, the next call activates the grain elsewhere, which answers
    /// "stream lost" (a terminal Failed) for followers to see, where the error would end their subscriptions with a
    /// bare hub error. Reads only: they change nothing, so asking twice is harmless.
    /// </summary>
    private async Task<T> AcrossSiloLossAsync<T>(Func<Task<T>> call)
    {
        var started = time.GetTimestamp();
        while (true)
        {
            try
            {
                return await call();
            }
            catch (Exception ex) when (ex is SiloUnavailableException or OrleansMessageRejectionException
                && time.GetElapsedTime(started) < SiloLossPatience)
            {
                await Task.Delay(SiloLossRetry, time);
            }
        }
    }

    public IAsyncEnumerable<StreamEntry> FollowAsync(long afterSequence, CancellationToken cancellationToken) =>
        followers.FollowAsync(streamId, this, afterSequence, cancellationToken);

    public ValueTask<IStreamWatch> WatchAsync() => ValueTask.FromResult<IStreamWatch>(new Watch(grain));

    /// <summary>
    /// One long poll at a time: a notice completes when the grain's last sequence passes the one the previous notice
    /// reported, so an append between two polls completes the next one at once (at worst spuriously, which is allowed).
    /// </summary>
    private sealed class Watch(IStreamChannelGrain grain) : IStreamWatch
    {
        private Task<long>? _poll;
        private long _seen;

        public Task NextAppend()
        {
            if (_poll is { IsCompleted: true } done)
            {
                _seen = done.IsCompletedSuccessfully ? Math.Max(_seen, done.Result) : _seen;
                _poll = null;
            }

            return _poll ??= PollAsync(_seen);
        }

        /// <summary>A failed poll (the grain's silo went away) completes the notice too: the read that follows tells what happened.</summary>
        private async Task<long> PollAsync(long seen)
        {
            try
            {
                return await grain.WaitForAppendAsync(seen);
            }
            catch (Exception ex) when (ex is OrleansException or TimeoutException)
            {
                return seen;
            }
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
