using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using RelayCluster.Silo.Console.Live;
using Xunit.Abstractions;

namespace RelayCluster.Tests.Live;

/// <summary>
/// The publishing end of the live feed: unwatched, the grains' check costs no allocation (and a few nanoseconds);
/// watched, a silo's changes are coalesced to the latest row per tenant per flush.
/// </summary>
public sealed class LiveFeedTests(ITestOutputHelper output)
{
    private static TenantRow Row(string id, long spent) =>
        new(id, false, null, "2026-12", new TenantRowLimits(null, null, null, null), spent, 0, 0, 0, spent, 0.8, 0.95, spent);

    [Fact]
    public void Unwatched_the_grains_check_allocates_nothing()
    {
        var feed = new LiveFeed(TimeProvider.System, NullLogger<LiveFeed>.Instance);
        const int Turns = 5_000_000;
        var published = 0;
        Check(feed, 1_000, ref published); // JIT first

        var before = GC.GetAllocatedBytesForCurrentThread();
        var started = Stopwatch.GetTimestamp();
        Check(feed, Turns, ref published);
        var elapsed = Stopwatch.GetElapsedTime(started);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        output.WriteLine($"{Turns} unwatched checks: {allocated} bytes allocated, {elapsed.TotalMilliseconds * 1e6 / Turns:F2} ns each");
        Assert.Equal(0, allocated);
        Assert.Equal(0, published);
    }

    /// <summary>What TenantGrain and BatchGrain do after a commit: build and hand over a row only when watched.</summary>
    private static void Check(LiveFeed feed, int turns, ref int published)
    {
        for (var i = 0; i < turns; i++)
        {
            if (feed.Watched)
            {
                feed.Tenant(Row("t", i));
                published++;
            }
        }
    }

    [Fact]
    public async Task Watched_a_burst_reaches_a_watcher_as_the_latest_row_per_tenant()
    {
        var feed = new LiveFeed(TimeProvider.System, NullLogger<LiveFeed>.Instance);
        var watcher = new RecordingSilo();
        feed.UseWatchers([watcher], version: 1);
        feed.UseWatchers([], version: 0); // a late, older announcement changes nothing
        Assert.True(feed.Watched);

        for (var i = 1; i <= 1_000; i++)
        {
            feed.Tenant(Row("a", i));
            feed.Tenant(Row("b", 2 * i));
        }

        var update = await watcher.First.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal([("a", 1_000L), ("b", 2_000L)], update.Tenants.Select(r => (r.Id, r.RequestsInWindow)).Order());

        feed.UseWatchers([], version: 2);
        Assert.False(feed.Watched);
    }

    private sealed class RecordingSilo : ILiveFeedSilo
    {
        public TaskCompletionSource<LiveUpdate> First { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task WatchersAsync(ILiveFeedSilo[] watchers, long version) => Task.CompletedTask;

        public Task DeliverAsync(LiveUpdate update)
        {
            First.TrySetResult(update);
            return Task.CompletedTask;
        }
    }
}
