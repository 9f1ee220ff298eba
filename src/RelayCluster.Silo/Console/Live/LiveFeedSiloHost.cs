namespace RelayCluster.Silo.Console.Live;

/// <summary>
/// This silo's membership in the live feed: its observer (<see cref="ILiveFeedSilo"/>) joins <see cref="ILiveFeedGrain"/>
/// at start and every <see cref="RefreshInterval"/>, and at once when this silo's first admin connection starts watching
/// or its last stops. Announced watchers go to <see cref="LiveFeed"/> (the publishing end); updates from other silos go
/// to <see cref="AdminWatchers"/> (this silo's connections).
/// </summary>
internal sealed partial class LiveFeedSiloHost(
    IGrainFactory grains, ILocalSiloDetails local, LiveFeed feed, AdminWatchers watchers, ILogger<LiveFeedSiloHost> logger)
    : BackgroundService, ILiveFeedSilo
{
    /// <summary>How often a silo rejoins (a feed grain rebuilt after its silo died learns the silos again within this).</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(20);

    private readonly SemaphoreSlim _joining = new(1, 1);
    private ILiveFeedSilo? _self;

    private string Silo => local.SiloAddress.ToParsableString();

    private ILiveFeedGrain Directory => grains.GetGrain<ILiveFeedGrain>(0);

    public Task WatchersAsync(ILiveFeedSilo[] watchers, long version)
    {
        feed.UseWatchers(watchers, version);
        return Task.CompletedTask;
    }

    public Task DeliverAsync(LiveUpdate update)
    {
        watchers.Deliver(update);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Tells the cluster whether this silo watches now (the first watcher starts it, the last stops it) and waits
    /// until every silo was told, so a snapshot read after this misses no change.
    /// </summary>
    public async Task JoinAsync(CancellationToken cancellationToken = default)
    {
        await _joining.WaitAsync(cancellationToken);
        try
        {
            _self ??= grains.CreateObjectReference<ILiveFeedSilo>(this); // the runtime holds it weakly: this host keeps it
            var (announced, version) = await Directory.JoinAsync(Silo, _self, watchers.AnyWatching);
            feed.UseWatchers(announced, version);
        }
        finally
        {
            _joining.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(RefreshInterval);
        do
        {
            try
            {
                await JoinAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogJoinFailed(logger, ex.Message); // tried again at the next refresh
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try
        {
            await Directory.LeaveAsync(Silo).WaitAsync(TimeSpan.FromSeconds(2), cancellationToken);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogJoinFailed(logger, ex.Message); // it expires from the list instead
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Live feed: this silo could not join the feed ({Reason}); it retries.")]
    private static partial void LogJoinFailed(ILogger logger, string reason);
}
