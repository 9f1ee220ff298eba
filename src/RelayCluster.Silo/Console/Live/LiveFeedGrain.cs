using Orleans.Concurrency;

namespace RelayCluster.Silo.Console.Live;

/// <summary>
/// One silo's end of the live feed, an Orleans observer (<c>IGrainFactory.CreateObjectReference</c>) registered with
/// <see cref="ILiveFeedGrain"/>: it learns which silos hold admin connections, and receives their updates.
/// </summary>
[Alias("relay.live.silo")]
public interface ILiveFeedSilo : IGrainObserver
{
    /// <summary>
    /// The silos holding watching admin connections now (empty: nobody watches, so grains publish nothing).
    /// <paramref name="version"/> grows with each change, so a late announcement never undoes a newer one.
    /// </summary>
    [Alias("watchers")]
    Task WatchersAsync(ILiveFeedSilo[] watchers, long version);

    /// <summary>Changes another silo's grains made; one-way, so a slow or dead watcher never holds up a publisher.</summary>
    [Alias("deliver"), OneWay]
    Task DeliverAsync(LiveUpdate update);
}

/// <summary>
/// The cluster's list of silos and which of them watch (key 0). Every silo joins at start and again every
/// <see cref="LiveFeedSiloHost.RefreshInterval"/>, saying whether it holds watching admin connections; when the set of
/// watchers changes, every silo is told at once (and awaited, so a watch starts only once every silo publishes).
/// </summary>
[Alias("relay.live.feed")]
public interface ILiveFeedGrain : IGrainWithIntegerKey
{
    /// <summary>Joins or refreshes <paramref name="silo"/>; answers the current watchers and their version.</summary>
    [Alias("join")]
    Task<(ILiveFeedSilo[] Watchers, long Version)> JoinAsync(string silo, ILiveFeedSilo observer, bool watching);

    /// <summary>Takes a stopping silo off the list at once (else it expires after three missed refreshes).</summary>
    [Alias("leave")]
    Task LeaveAsync(string silo);
}

/// <summary>
/// The list itself, in memory: if this activation is lost (its silo died), the next one is rebuilt by the silos' next
/// refreshes, and meanwhile every silo keeps publishing to the watchers it last heard of. Not reentrant: a change of
/// watchers is announced to every silo before the next join is taken.
/// </summary>
internal sealed partial class LiveFeedGrain(TimeProvider time, ILogger<LiveFeedGrain> logger) : Grain, ILiveFeedGrain
{
    private static readonly TimeSpan AnnounceTimeout = TimeSpan.FromSeconds(5);

    private readonly Dictionary<string, Member> _members = new(StringComparer.Ordinal);
    private ILiveFeedSilo[] _watchers = [];

    // From the clock (µs), so an activation that replaces a lost one announces newer versions than it did: silos drop
    // announcements older than the last they applied.
    private long _version = time.GetUtcNow().ToUnixTimeMilliseconds() * 1000;

    public async Task<(ILiveFeedSilo[] Watchers, long Version)> JoinAsync(string silo, ILiveFeedSilo observer, bool watching)
    {
        _members[silo] = new Member(observer, watching, time.GetTimestamp());
        await AnnounceIfChangedAsync();
        return (_watchers, _version);
    }

    public async Task LeaveAsync(string silo)
    {
        if (_members.Remove(silo))
        {
            await AnnounceIfChangedAsync();
        }
    }

    private async Task AnnounceIfChangedAsync()
    {
        var expiry = LiveFeedSiloHost.RefreshInterval * 3;
        foreach (var stale in _members.Where(m => time.GetElapsedTime(m.Value.SeenAt) > expiry).Select(m => m.Key).ToList())
        {
            _members.Remove(stale); // a silo that died without leaving
        }

        var watchers = _members.Where(m => m.Value.Watching).OrderBy(m => m.Key, StringComparer.Ordinal).Select(m => m.Value.Observer).ToArray();
        if (watchers.SequenceEqual(_watchers))
        {
            return;
        }

        _watchers = watchers;
        _version++;
        await Task.WhenAll(_members.Select(m => AnnounceAsync(m.Key, m.Value.Observer)));
    }

    private async Task AnnounceAsync(string silo, ILiveFeedSilo observer)
    {
        try
        {
            await observer.WatchersAsync(_watchers, _version).WaitAsync(AnnounceTimeout);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogAnnounceFailed(logger, silo, ex.Message); // it catches up at its next refresh, which answers the watchers
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Live feed: silo {Silo} was not told of the watchers ({Reason}); it learns at its next refresh.")]
    private static partial void LogAnnounceFailed(ILogger logger, string silo, string reason);

    private sealed record Member(ILiveFeedSilo Observer, bool Watching, long SeenAt);
}
