using RelayCluster.Core.Routing;
using RelayCluster.Redis;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Routing;

/// <summary>Both shadow stores keep a bounded window of recent comparisons, newest first, and exact running totals.</summary>
public abstract class ShadowStoreContract
{
    protected abstract IShadowStore Store();

    [Fact]
    public async Task Recent_comparisons_are_capped_newest_first_and_totals_add_up()
    {
        var store = Store();
        var route = "r-" + Guid.NewGuid().ToString("N");
        var one = new ShadowTotals(1, 0, 1, 1, 0, 0.5, 10, 20);
        await store.RecordAsync(route, """{"n":1}""", one, window: 2);
        await store.RecordAsync(route, """{"n":2}""", one, window: 2);
        await store.RecordAsync(route, """{"n":3}""", one with { ExactMatches = 0, ShadowFailures = 1, SimilaritySum = 0.25 }, window: 2);
        await store.RecordAsync(route, "", ShadowTotals.None with { Dropped = 1 }, window: 2);

        var (totals, recent) = await store.ReadAsync(route);
        Assert.Equal(["""{"n":3}""", """{"n":2}"""], recent);
        Assert.Equal(new ShadowTotals(3, 1, 2, 3, 1, 1.25, 30, 60), totals);
        Assert.Equal((ShadowTotals.None, 0), ((await store.ReadAsync(route + "-other")).Totals, (await store.ReadAsync(route + "-other")).Recent.Count));
    }
}

public sealed class MemoryShadowStoreTests : ShadowStoreContract
{
    protected override IShadowStore Store() => new MemoryShadowStore();
}

[Collection(RedisCollection.Name)]
public sealed class RedisShadowStoreTests(RedisServer redis) : ShadowStoreContract
{
    protected override IShadowStore Store() => new RedisShadowStore(redis.Connection);
}
