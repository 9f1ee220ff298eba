using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using RelayCluster.Core.Metering;
using RelayCluster.Tests.Infrastructure;
using StackExchange.Redis;

namespace RelayCluster.Tests.AdminData;

/// <summary>The console's read endpoints on the embedded store: its ledger is the usage log.</summary>
public sealed class AdminDataTests : AdminDataContract
{
    protected override (string Key, string? Value)[] StoreSettings() => [];

    protected override async Task<List<UsageRecord>> LedgerAsync(string tenant)
    {
        await Host.Services.GetRequiredService<IUsageLedger>().FlushAsync();
        return [.. Directory.GetFiles(Host.UsageDirectory, "usage-*.jsonl").SelectMany(File.ReadAllLines).Where(l => l.Length > 0)
            .Select(l => JsonSerializer.Deserialize(l, UsageJsonContext.Default.UsageRecord)!).Where(r => r.Tenant == tenant)];
    }
}

/// <summary>The console's read endpoints on the Redis store: its ledger is the tenant's ledger stream.</summary>
public sealed class RedisAdminDataTests : AdminDataContract
{
    private readonly RedisServer _redis = new();

    protected override (string Key, string? Value)[] StoreSettings() => [("Relay:Store", "redis"), ("Relay:Redis", _redis.ConnectionString)];

    protected override Task StartStoreAsync() => _redis.InitializeAsync();

    protected override Task StopStoreAsync() => _redis.DisposeAsync();

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

    protected override async Task<List<UsageRecord>> LedgerAsync(string tenant)
    {
        var records = new List<UsageRecord>();
        var entries = (RedisResult[])(await _redis.Connection.ExecuteAsync("XRANGE", "{t:" + tenant + "}:ledger", "-", "+"))!;
        foreach (var entry in entries)
        {
            var fields = (RedisResult[])((RedisResult[])entry!)[1]!;
            records.Add(JsonSerializer.Deserialize((string)fields[1]!, UsageJsonContext.Default.UsageRecord)!);
        }

        return records;
    }
}
