using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.AdminData;

/// <summary>The console's read endpoints on the embedded store: its ledger is the usage log.</summary>
public sealed class AdminDataTests() : AdminDataContract(new EmbeddedTestStore());

/// <summary>The console's read endpoints on the Redis store: its ledger is the tenant's ledger stream.</summary>
public sealed class RedisAdminDataTests : AdminDataContract
{
    private readonly RedisServer _redis;

    public RedisAdminDataTests()
        : this(new RedisTestStore())
    {
    }

    private RedisAdminDataTests(RedisTestStore store)
        : base(store) => _redis = store.Redis;

    [Fact]
    public async Task A_month_booked_before_the_hash_kept_days_answers_zero_days_while_its_totals_stay_whole()
    {
        var key = "{t:t1}:usage:2026-10";
        foreach (var (field, amount) in new[] { ("requests", 5L), ("cost", 9000L), ("m:mock-fast:requests", 5L), ("m:mock-fast:cost", 9000L), ("d:31:requests", 2L) })
        {
            await _redis.Connection.ExecuteAsync("HINCRBY", key, field, amount);
        }

        using var admin = Host.ClientFor(RelayHost.AdminKey);
        var days = System.Text.Json.Nodes.JsonNode.Parse(await admin.GetStringAsync("/admin/tenants/t1/usage/daily?month=2026-10"))!["data"]!.AsArray();
        Assert.Equal(31, days.Count);
        Assert.Equal(2, days.Sum(d => (long)d!["requests"]!)); // only the day booked since the upgrade
        Assert.Equal(2, (long)days[30]!["requests"]!);
        Assert.Equal(5, (long)System.Text.Json.Nodes.JsonNode.Parse(await admin.GetStringAsync("/admin/tenants/t1/usage?month=2026-10"))!["requests"]!);
    }
}
