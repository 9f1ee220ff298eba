using System.Text.Json.Nodes;
using RelayCluster.Core.Batches;
using RelayCluster.Core.Metering;
using RelayCluster.Redis;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Batches;

/// <summary>
/// A silo dies mid-run (a cluster of its own per test: each kills a silo), under the batch's grain or under some of its
/// chunks: the batch completes elsewhere with every custom_id once in its files, every answered item booked exactly once
/// (the spend and the usage ledger are exactly the answered lines' usage), and counts that never went backwards as
/// polled throughout. On the cluster's providers only: the embedded default is one silo, and Orleans' memory grain
/// storage keeps its state in grains on the silos, so a killed silo takes part of it along (nothing to revive from).
/// </summary>
[Collection(BatchGrainCollection.Name)]
public sealed class BatchGrainFailoverTests() : BatchGrainSteps(new RedisBatchGrainCluster()), IAsyncLifetime
{
    private RedisBatchGrainCluster Redis => (RedisBatchGrainCluster)Cluster;

    public Task InitializeAsync() => Cluster.InitializeAsync();

    public Task DisposeAsync() => Cluster.DisposeAsync();

    /// <summary>
    /// A new batch id whose grain lands on one of <paramref name="silos"/>. Placement prefers the calling silo, and spreads
    /// only once the silos' load statistics are in, so ids are tried through the wanted silos until one lands there.
    /// </summary>
    private async Task<string> BatchIdOnAsync(params int[] silos)
    {
        var wanted = silos.Select(Cluster.AddressOf).ToHashSet(StringComparer.Ordinal);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        for (var n = 0; DateTime.UtcNow < deadline; n++)
        {
            var id = BatchIds.New();
            if (wanted.Contains(await Cluster.Batches(silos[n % silos.Length]).HostOfAsync(id)))
            {
                return id;
            }

            await Task.Delay(20);
        }

        throw new InvalidOperationException("No batch grain landed on the wanted silos in 20 s.");
    }

    private async Task<(string Tenant, string Id, string[] CustomIds)> StartAsync(string id)
    {
        var tenant = await TenantAsync();
        Cluster.Upstream.For(tenant).Delay = TimeSpan.FromMilliseconds(200);
        var ids = CustomIds(120);
        await CreateAsync(tenant, await UploadAsync(tenant, ids.Select(c => Line(c))), id: id, silo: 0);
        return (tenant, id, ids);
    }

    /// <summary>The batch after the kill: complete, each custom_id once, each answered item booked once, counts never backwards.</summary>
    private async Task AssertCompletedExactlyOnceAsync(string tenant, string id, string[] ids, long endedAtKill)
    {
        var (done, seen) = await WaitFinalAsync(tenant, id, TimeSpan.FromSeconds(60));
        Assert.True(done.Status == BatchStatus.Completed, $"ended {Describe(done)}\n{Cluster.RelayLog()}");
        Assert.True(endedAtKill < done.Total, $"the silo was killed after every item had ended ({endedAtKill})");
        Assert.True(seen.Count > 3, $"polled only {seen.Count} times");
        var (output, errors) = await ResultsAsync(tenant, done, ids);
        Assert.Equal(ids.Length, output.Count); // the upstream answered every call: no item failed for the kill
        Assert.Empty(errors);

        // Exactly once: the tenant's spend and its usage ledger are the answered lines' usage, one record per line.
        var billed = Billed(output);
        Assert.Equal(billed, (await Cluster.Tenants(NextSilo()).GetTenant(tenant).GetQuotaAsync()).SpentNanos);
        var usage = await new RedisUsageLedger(Redis.Redis.Connection).GetSummaryAsync(tenant, Money.MonthOf(DateTimeOffset.UtcNow));
        Assert.Equal((output.Count, billed), ((int)usage.Requests, usage.CostNanos));
        var requestIds = output.Select(l => (string)l["response"]!["request_id"]!).ToList();
        Assert.Equal(requestIds.Count, requestIds.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public async Task The_batch_grains_silo_dies_mid_run_and_the_batch_completes_elsewhere_with_every_item_once_and_booked_once()
    {
        var id = await BatchIdOnAsync(1, 2);
        var doomed = Cluster.AddressOf(1) == await Cluster.Batches(0).HostOfAsync(id) ? 1 : 2;
        var doomedAddress = Cluster.AddressOf(doomed);
        var (tenant, _, ids) = await StartAsync(id);
        var running = await WaitStatusAsync(tenant, id, b => b.Completed + b.Failed >= 15);
        Assert.Equal(BatchStatus.InProgress, running.Status);

        await Cluster.Cluster.KillSiloAsync(Cluster.Cluster.Silos[doomed]);

        await AssertCompletedExactlyOnceAsync(tenant, id, ids, running.Completed + running.Failed);
        Assert.NotEqual(doomedAddress, await Cluster.Batches(0).HostOfAsync(id));
    }

    [Fact]
    public async Task A_cancel_right_after_the_batch_grains_silo_died_stops_every_item_at_once_on_the_live_silos()
    {
        var id = await BatchIdOnAsync(1, 2);
        var doomed = Cluster.AddressOf(1) == await Cluster.Batches(0).HostOfAsync(id) ? 1 : 2;
        var live = new[] { Cluster.AddressOf(0), Cluster.AddressOf(3 - doomed) };
        var (tenant, _, ids) = await StartAsync(id);
        var upstream = Cluster.Upstream.For(tenant);
        await WaitStatusAsync(tenant, id, b => b.Completed + b.Failed >= 10);

        await Cluster.Cluster.KillSiloAsync(Cluster.Cluster.Silos[doomed]);

        // The cancel is answered once the batch's grain is back on a live silo (503 until the dead one is declared dead).
        BatchState? cancelling = null;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (cancelling is null)
        {
            try
            {
                cancelling = await Cluster.Batches(0).CancelAsync(tenant, id, Now());
                Assert.NotNull(cancelling);
            }
            catch (Core.Tenants.StoreUnavailableException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }

        // Calls started on the live silos only: the killed silo's leftovers still run in this process, as a real dead one's would not.
        int StartedLive() => live.Sum(a => upstream.StartedOn.GetValueOrDefault(a));
        var startedAtCancel = StartedLive();
        Assert.Contains(cancelling.Status, new[] { BatchStatus.Cancelling, BatchStatus.Cancelled });

        var (cancelled, _) = await WaitFinalAsync(tenant, id, TimeSpan.FromSeconds(60));
        Assert.Equal(BatchStatus.Cancelled, cancelled.Status);
        Assert.Equal(startedAtCancel, StartedLive());
        var (output, errors) = await ResultsAsync(tenant, cancelled, ids);
        var unrun = errors.Where(l => l["response"] is not JsonObject).ToList();
        Assert.NotEmpty(unrun);
        Assert.All(unrun, l => Assert.Equal("batch_cancelled", (string?)l["error"]?["code"]));
        Assert.Equal(Billed(output.Concat(errors)), (await Cluster.Tenants(0).GetTenant(tenant).GetQuotaAsync()).SpentNanos);
    }

    [Fact]
    public async Task A_silo_running_chunks_dies_mid_run_and_its_chunks_are_revived_elsewhere_with_every_item_once_and_booked_once()
    {
        // The batch's grain on silo 0; the silo killed is another one that runs some of its chunks.
        var id = await BatchIdOnAsync(0);
        var (tenant, _, ids) = await StartAsync(id);
        var upstream = Cluster.Upstream.For(tenant);
        var others = new[] { Cluster.AddressOf(1), Cluster.AddressOf(2) };
        var busiest = (await Eventually.WaitAsync(
            () => Task.FromResult(others.MaxBy(a => upstream.StartedOn.GetValueOrDefault(a))!), a => upstream.StartedOn.GetValueOrDefault(a) >= 3))!;
        Assert.True(upstream.StartedOn.GetValueOrDefault(busiest) >= 3,
            $"no chunk ran on silo 1 or 2, only on the batch's own silo ({string.Join(", ", upstream.StartedOn)})");
        var doomed = Array.IndexOf(others, busiest) + 1;
        var running = await Cluster.Batches(0).GetAsync(tenant, id);
        Assert.Equal(BatchStatus.InProgress, running!.Status);

        await Cluster.Cluster.KillSiloAsync(Cluster.Cluster.Silos[doomed]);

        await AssertCompletedExactlyOnceAsync(tenant, id, ids, running.Completed + running.Failed);
    }
}
