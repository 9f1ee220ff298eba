using System.Text.Json.Nodes;
using Microsoft.AspNetCore.SignalR;
using RelayCluster.Core.Auth;
using RelayCluster.Core.Batches;
using RelayCluster.Silo.Streams;
using RelayCluster.Silo.Tenants;

namespace RelayCluster.Silo.Console.Live;

/// <summary>
/// <c>/hubs/admin</c>: the admin console's live view, behind an admin token (<see cref="AdminHubGate"/>).
/// <list type="bullet">
/// <item><c>WatchTenants()</c> → <see cref="TenantRow"/>[] (every tenant), then <c>"tenants"</c> (the changed rows,
/// at most about four messages a second) and <c>"tenantsRemoved"</c> (string[]: the ids deleted, as often);
/// <c>UnwatchTenants()</c>.</item>
/// <item><c>WatchBatches()</c> → BatchRow[] (every tenant's unfinished batches and the latest 100 finished, newest
/// first; a BatchRow is OpenAI's Batch object plus <c>"tenant"</c>), then <c>"batches"</c> (changed ones) and
/// <c>"tenantsRemoved"</c> (a deleted tenant's batches are gone with it); <c>UnwatchBatches()</c>.</item>
/// </list>
/// Rows come from the grains, whichever silo runs them (<see cref="LiveFeed"/>); a watch starts only once every silo
/// publishes, and its snapshot is read after that, so no change after the snapshot is missed.
/// </summary>
internal sealed class AdminHub(
    AdminTokens tokens, AdminWatchers watchers, LiveFeedSiloHost silo, ITenantDirectory directory, IGrainFactory grains, IBatches batches) : Hub
{
    /// <summary>The finished batches a batches snapshot holds (the latest, by creation).</summary>
    public const int FinishedBatches = 100;

    public override Task OnConnectedAsync()
    {
        // AdminHubGate refused tokenless connections with a 401 already; this catches a connect with another token than its negotiate's.
        if (!tokens.IsValid(Context.GetHttpContext() is { } http ? StreamsHubGate.TokenOf(http.Request) : null))
        {
            Context.Abort();
            return Task.CompletedTask;
        }

        return base.OnConnectedAsync();
    }

    public override async Task OnDisconnectedAsync(Exception? exception)
    {
        if (watchers.Stop(Context.ConnectionId, tenants: null))
        {
            try
            {
                await silo.JoinAsync(); // this silo's last watcher: the cluster may stop publishing
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // The feed grain is unreachable (this silo stops, say): the next refresh tells it, and until then the
                // other silos publish to a silo that drops what nobody here watches.
            }
        }

        await base.OnDisconnectedAsync(exception);
    }

    public async Task<TenantRow[]> WatchTenants()
    {
        await StartAsync(tenants: true);
        var ids = await directory.ListAsync();
        var rows = new TenantRow?[ids.Count];
        await Parallel.ForAsync(0, ids.Count, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, _) =>
            rows[i] = await grains.GetGrain<ITenantActor>(ids[i]).LiveRowAsync());
        TenantRow[] snapshot = [.. rows.OfType<TenantRow>()];
        watchers.TenantsPrimed(Context.ConnectionId, snapshot);
        return snapshot;
    }

    public async Task UnwatchTenants()
    {
        if (watchers.Stop(Context.ConnectionId, tenants: true))
        {
            await silo.JoinAsync();
        }
    }

    public async Task<JsonObject[]> WatchBatches()
    {
        await StartAsync(tenants: false);
        var perTenant = await Task.WhenAll((await directory.ListAsync()).Select(LatestBatchesAsync));
        // Newest first; a stable sort, so batches of one tenant created in the same second keep their creation order.
        var all = perTenant.SelectMany(b => b).OrderByDescending(b => b.CreatedAt).ToList();
        var finished = all.Where(b => BatchStatus.IsFinal(b.Status)).Take(FinishedBatches).ToHashSet();
        var snapshot = all.Where(b => !BatchStatus.IsFinal(b.Status) || finished.Contains(b)).Select(AdminWatchers.BatchRow).ToArray();
        watchers.BatchesPrimed(Context.ConnectionId);
        return snapshot;
    }

    public async Task UnwatchBatches()
    {
        if (watchers.Stop(Context.ConnectionId, tenants: false))
        {
            await silo.JoinAsync();
        }
    }

    private async Task StartAsync(bool tenants)
    {
        // Also when another connection of this silo watches already: its join may still be announcing, and this returns
        // only after it (joins are one at a time), once every silo was told to publish.
        watchers.Start(Context.ConnectionId, tenants);
        await silo.JoinAsync();
    }

    /// <summary>
    /// A tenant's batches, newest first, up to its <see cref="FinishedBatches"/>-th finished one (older finished ones cannot
    /// be among the latest of all tenants). An unfinished batch older than that is left out until its next change.
    /// </summary>
    private async Task<List<BatchState>> LatestBatchesAsync(string tenantId)
    {
        var found = new List<BatchState>();
        var finished = 0;
        string? after = null;
        while (true)
        {
            var page = await batches.ListAsync(tenantId, after, 100);
            found.AddRange(page.Batches);
            finished += page.Batches.Count(b => BatchStatus.IsFinal(b.Status));
            if (!page.HasMore || page.Batches.Count == 0 || finished >= FinishedBatches)
            {
                return found;
            }

            after = page.Batches[^1].Id;
        }
    }
}
