using RelayCluster.Core.Batches;

namespace RelayCluster.Silo.Console.Live;

/// <summary>
/// This silo's publishing end of the admin console's live feed. Grains call <see cref="Watched"/> after each committed
/// change: false (nobody in the cluster watches) costs one volatile read, with no allocation, lock or I/O, and the grain
/// builds nothing. When watched, the grain hands over its row or batch, built in its own turn; the latest per tenant and
/// per batch is kept, and at most every <see cref="FlushInterval"/> one <see cref="LiveUpdate"/> goes to each watching
/// silo (<see cref="ILiveFeedSilo.DeliverAsync"/>, one-way). So a tenant settling a thousand requests a second costs a
/// watcher four rows a second, and a silo's outgoing traffic is bounded by its number of changed tenants, not requests.
/// </summary>
internal sealed partial class LiveFeed(TimeProvider time, ILogger<LiveFeed> logger)
{
    /// <summary>How long changes gather before they are sent: at most four updates a second per publishing silo.</summary>
    public static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(250);

    private readonly Lock _lock = new();
    private Dictionary<string, TenantRow?> _tenants = new(StringComparer.Ordinal);
    private Dictionary<string, BatchState> _batches = new(StringComparer.Ordinal);
    private bool _flushScheduled;
    private volatile ILiveFeedSilo[] _watchers = [];
    private volatile bool _watched;
    private long _version = -1;

    /// <summary>Whether any silo of the cluster holds a watching admin connection: the only thing the hot path reads.</summary>
    public bool Watched => _watched;

    /// <summary>The watchers as the feed grain announced them; an announcement older than the last one applied is ignored.</summary>
    public void UseWatchers(ILiveFeedSilo[] watchers, long version)
    {
        lock (_lock)
        {
            if (version < _version)
            {
                return;
            }

            _version = version;
            _watchers = watchers;
            _watched = watchers.Length > 0;
            if (!_watched)
            {
                _tenants.Clear();
                _batches.Clear();
            }
        }
    }

    /// <summary>A tenant's row after a change (call only when <see cref="Watched"/>).</summary>
    public void Tenant(TenantRow row)
    {
        lock (_lock)
        {
            if (_watched)
            {
                _tenants[row.Id] = row;
                ScheduleFlush();
            }
        }
    }

    /// <summary>A tenant deleted (its grain forgot it).</summary>
    public void TenantRemoved(string tenantId)
    {
        lock (_lock)
        {
            if (_watched)
            {
                _tenants[tenantId] = null;
                ScheduleFlush();
            }
        }
    }

    /// <summary>A batch's committed state after a change (call only when <see cref="Watched"/>).</summary>
    public void Batch(BatchState batch)
    {
        lock (_lock)
        {
            if (_watched)
            {
                _batches[batch.Id] = batch;
                ScheduleFlush();
            }
        }
    }

    /// <summary>Under the lock: one flush pending at a time, run off the calling grain's scheduler (it is no turn of that grain's).</summary>
    private void ScheduleFlush()
    {
        if (!_flushScheduled)
        {
            _flushScheduled = true;
            _ = Task.Run(FlushSoonAsync);
        }
    }

    private async Task FlushSoonAsync()
    {
        await Task.Delay(FlushInterval, time);
        LiveUpdate update;
        ILiveFeedSilo[] watchers;
        lock (_lock)
        {
            _flushScheduled = false;
            update = new LiveUpdate(
                [.. _tenants.Values.OfType<TenantRow>()], [.. _tenants.Where(t => t.Value is null).Select(t => t.Key)], [.. _batches.Values]);
            _tenants = new(StringComparer.Ordinal);
            _batches = new(StringComparer.Ordinal);
            watchers = _watchers;
        }

        foreach (var watcher in watchers)
        {
            try
            {
                await watcher.DeliverAsync(update); // one-way: completes once sent
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                LogDeliveryFailed(logger, ex.Message); // a watcher that went away; the feed grain drops it soon
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Live feed: an update could not be sent to a watching silo ({Reason}).")]
    private static partial void LogDeliveryFailed(ILogger logger, string reason);
}
