using System.Text.Json.Nodes;
using Microsoft.AspNetCore.SignalR;
using RelayCluster.Core.Batches;
using RelayCluster.Silo.Batches;

namespace RelayCluster.Silo.Console.Live;

/// <summary>
/// This silo's watching admin connections and what each is owed. Updates from every silo merge into each watching
/// connection's pending rows (the latest per tenant and per batch), and a connection is sent what is pending at most
/// every <see cref="SendInterval"/>: <c>"tenants"</c> (<see cref="TenantRow"/>[]), <c>"tenantsRemoved"</c> (string[], the
/// ids deleted since the last send, to a watcher of either feed) and <c>"batches"</c> (BatchRow[]: the batch object plus <c>"tenant"</c>). So however
/// fast tenants change or go, a connection gets at most about four messages of each kind a second. Between a watch's start and
/// its snapshot, updates wait; the ones older than the snapshot's row of the same tenant are dropped.
/// </summary>
internal sealed partial class AdminWatchers(IHubContext<AdminHub> hub, TimeProvider time, ILogger<AdminWatchers> logger)
{
    /// <summary>The least time between two sends to one connection.</summary>
    public static readonly TimeSpan SendInterval = TimeSpan.FromMilliseconds(250);

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Watcher> _connections = new(StringComparer.Ordinal);

    /// <summary>Whether any connection of this silo watches tenants or batches.</summary>
    public bool AnyWatching
    {
        get
        {
            lock (_lock)
            {
                return _connections.Count > 0;
            }
        }
    }

    /// <summary>Starts collecting updates of tenants or batches for a connection; true if this silo watched nothing before.</summary>
    public bool Start(string connectionId, bool tenants)
    {
        lock (_lock)
        {
            var first = _connections.Count == 0;
            if (!_connections.TryGetValue(connectionId, out var watcher))
            {
                _connections[connectionId] = watcher = new Watcher(connectionId);
            }

            if (tenants)
            {
                watcher.Tenants = Feed.Waiting;
            }
            else
            {
                watcher.Batches = Feed.Waiting;
            }

            return first;
        }
    }

    /// <summary>The connection has its tenants snapshot: updates older than it are dropped, the rest are sent from now on.</summary>
    public void TenantsPrimed(string connectionId, IReadOnlyList<TenantRow> snapshot)
    {
        lock (_lock)
        {
            if (_connections.TryGetValue(connectionId, out var watcher) && watcher.Tenants == Feed.Waiting)
            {
                foreach (var row in snapshot)
                {
                    if (watcher.PendingTenants.TryGetValue(row.Id, out var pending) && pending is not null && pending.UpdatedAt < row.UpdatedAt)
                    {
                        watcher.PendingTenants.Remove(row.Id);
                    }
                }

                watcher.Tenants = Feed.Live;
                ScheduleSend(watcher);
            }
        }
    }

    /// <summary>The connection has its batches snapshot: updates from now on are sent.</summary>
    public void BatchesPrimed(string connectionId)
    {
        lock (_lock)
        {
            if (_connections.TryGetValue(connectionId, out var watcher) && watcher.Batches == Feed.Waiting)
            {
                watcher.Batches = Feed.Live;
                ScheduleSend(watcher);
            }
        }
    }

    /// <summary>Stops one feed of a connection (or both: <paramref name="tenants"/> null, at disconnect); true if this silo watches nothing now.</summary>
    public bool Stop(string connectionId, bool? tenants)
    {
        lock (_lock)
        {
            if (!_connections.TryGetValue(connectionId, out var watcher))
            {
                return false;
            }

            if (tenants != false)
            {
                watcher.Tenants = Feed.Off;
                foreach (var row in watcher.PendingTenants.Where(t => t.Value is not null).ToList())
                {
                    watcher.PendingTenants.Remove(row.Key); // removals stay while the batches feed is on: it needs them too
                }
            }

            if (tenants != true)
            {
                watcher.Batches = Feed.Off;
                watcher.PendingBatches.Clear();
            }

            if (watcher.Tenants == Feed.Off && watcher.Batches == Feed.Off)
            {
                watcher.PendingTenants.Clear();
            }

            if (watcher.Tenants == Feed.Off && watcher.Batches == Feed.Off)
            {
                _connections.Remove(connectionId);
                return _connections.Count == 0;
            }

            return false;
        }
    }

    /// <summary>An update from some silo's grains, merged into every watching connection's pending rows.</summary>
    public void Deliver(LiveUpdate update)
    {
        lock (_lock)
        {
            foreach (var watcher in _connections.Values)
            {
                if (watcher.Tenants != Feed.Off)
                {
                    foreach (var row in update.Tenants)
                    {
                        if (!watcher.PendingTenants.TryGetValue(row.Id, out var pending) || pending is null || pending.UpdatedAt <= row.UpdatedAt)
                        {
                            watcher.PendingTenants[row.Id] = row;
                        }
                    }
                }

                if (watcher.Tenants != Feed.Off || watcher.Batches != Feed.Off)
                {
                    // Both feeds hear of a deleted tenant: its batches leave a batches view (they are gone with it, and
                    // nothing else would ever tell it).
                    foreach (var id in update.RemovedTenants)
                    {
                        watcher.PendingTenants[id] = null;
                    }
                }

                if (watcher.Batches != Feed.Off)
                {
                    foreach (var batch in update.Batches)
                    {
                        watcher.PendingBatches[batch.Id] = batch;
                    }
                }

                ScheduleSend(watcher);
            }
        }
    }

    /// <summary>A batch as the hub sends it: OpenAI's Batch object plus <c>"tenant"</c>.</summary>
    public static JsonObject BatchRow(BatchState batch)
    {
        var row = JsonNode.Parse(BatchJson.Serialize(batch))!.AsObject();
        row["tenant"] = batch.TenantId;
        return row;
    }

    /// <summary>Under the lock: one send pending per connection, no sooner than <see cref="SendInterval"/> after the last.</summary>
    private void ScheduleSend(Watcher watcher)
    {
        var due = (watcher.Tenants == Feed.Live && watcher.PendingTenants.Count > 0)
            || (watcher.Batches == Feed.Live && (watcher.PendingBatches.Count > 0 || watcher.PendingTenants.ContainsValue(null)));
        if (due && !watcher.SendScheduled)
        {
            watcher.SendScheduled = true;
            _ = Task.Run(() => SendSoonAsync(watcher));
        }
    }

    private async Task SendSoonAsync(Watcher watcher)
    {
        var wait = SendInterval - time.GetElapsedTime(watcher.LastSentAt);
        if (watcher.LastSentAt != 0 && wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, time);
        }

        TenantRow[] rows = [];
        string[] removed = [];
        BatchState[] batches = [];
        lock (_lock)
        {
            watcher.SendScheduled = false;
            watcher.LastSentAt = time.GetTimestamp();
            if (watcher.Tenants == Feed.Live || watcher.Batches == Feed.Live)
            {
                removed = [.. watcher.PendingTenants.Where(t => t.Value is null).Select(t => t.Key)];
                foreach (var id in removed)
                {
                    watcher.PendingTenants.Remove(id);
                }
            }

            if (watcher.Tenants == Feed.Live)
            {
                rows = [.. watcher.PendingTenants.Values.OfType<TenantRow>()];
                watcher.PendingTenants.Clear();
            }

            if (watcher.Batches == Feed.Live)
            {
                batches = [.. watcher.PendingBatches.Values];
                watcher.PendingBatches.Clear();
            }
        }

        try
        {
            var client = hub.Clients.Client(watcher.ConnectionId);
            if (rows.Length > 0)
            {
                await client.SendAsync("tenants", rows);
            }

            if (removed.Length > 0)
            {
                await client.SendAsync("tenantsRemoved", removed); // one message however many went (a cleanup script deletes hundreds)
            }

            if (batches.Length > 0)
            {
                await client.SendAsync("batches", batches.Select(BatchRow).ToArray());
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogSendFailed(logger, watcher.ConnectionId, ex.Message); // the connection is going; its disconnect removes it
        }

        lock (_lock)
        {
            ScheduleSend(watcher); // what arrived while this was sending
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Admin hub: an update could not be sent to connection {ConnectionId} ({Reason}).")]
    private static partial void LogSendFailed(ILogger logger, string connectionId, string reason);

    private enum Feed
    {
        Off,
        Waiting,
        Live,
    }

    private sealed class Watcher(string connectionId)
    {
        public string ConnectionId { get; } = connectionId;

        public Feed Tenants { get; set; }

        public Feed Batches { get; set; }

        public Dictionary<string, TenantRow?> PendingTenants { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, BatchState> PendingBatches { get; } = new(StringComparer.Ordinal);

        public bool SendScheduled { get; set; }

        public long LastSentAt { get; set; }
    }
}
