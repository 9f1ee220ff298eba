using System.Text.Json;
using RelayCluster.Core.Metering;
using RelayCluster.Tests.Infrastructure;
using StackExchange.Redis;

namespace RelayCluster.Tests.Metering;

/// <summary>The usage report on the Redis store: its ledger is each tenant's ledger stream, its totals the monthly hash.</summary>
public sealed class RedisUsageReportTests : UsageReportContract
{
    private readonly RedisServer _redis = new();

    protected override (string Key, string? Value)[] StoreSettings() => [("Relay:Store", "redis"), ("Relay:Redis", _redis.ConnectionString)];

    protected override Task StartStoreAsync() => _redis.InitializeAsync();

    protected override Task StopStoreAsync() => _redis.DisposeAsync();

    protected override async Task<List<UsageRecord>> LedgerAsync(string[] tenants)
    {
        var records = new List<UsageRecord>();
        foreach (var tenant in tenants)
        {
            var entries = (RedisResult[])(await _redis.Connection.ExecuteAsync("XRANGE", "{t:" + tenant + "}:ledger", "-", "+"))!;
            foreach (var entry in entries)
            {
                var fields = (RedisResult[])((RedisResult[])entry!)[1]!;
                records.Add(JsonSerializer.Deserialize((string)fields[1]!, UsageJsonContext.Default.UsageRecord)!);
            }
        }

        return records;
    }
}
