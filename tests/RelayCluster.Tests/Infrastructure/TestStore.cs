using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using RelayCluster.Core.Metering;
using StackExchange.Redis;

namespace RelayCluster.Tests.Infrastructure;

/// <summary>
/// The store a contract suite runs on (the usage report, the console's read endpoints): the relay settings that select
/// it, its start and stop around the suite's host, and its ledger read back as the usage records it holds, so each suite
/// states its checks once and each store says once how its ledger is read.
/// </summary>
public abstract class TestStore
{
    /// <summary>Settings the relay host adds to select this store.</summary>
    public abstract (string Key, string? Value)[] Settings();

    public virtual Task StartAsync() => Task.CompletedTask;

    public virtual Task StopAsync() => Task.CompletedTask;

    /// <summary>The tenants' usage records as the store's ledger holds them, each tenant's in the order they were booked.</summary>
    public abstract Task<List<UsageRecord>> LedgerAsync(RelayHost host, params string[] tenants);
}

/// <summary>The embedded store: its ledger is the usage log's JSON lines (flushed first).</summary>
public sealed class EmbeddedTestStore : TestStore
{
    public override (string Key, string? Value)[] Settings() => [];

    public override async Task<List<UsageRecord>> LedgerAsync(RelayHost host, params string[] tenants)
    {
        await host.Services.GetRequiredService<IUsageLedger>().FlushAsync();
        return [.. Directory.GetFiles(host.UsageDirectory, "usage-*.jsonl").SelectMany(File.ReadAllLines).Where(l => l.Length > 0)
            .Select(l => JsonSerializer.Deserialize(l, UsageJsonContext.Default.UsageRecord)!).Where(r => tenants.Contains(r.Tenant))];
    }
}

/// <summary>The Redis store on a redis-server of its own: its ledger is each tenant's ledger stream (<c>{t:id}:ledger</c>).</summary>
public sealed class RedisTestStore : TestStore
{
    public RedisServer Redis { get; } = new();

    public override (string Key, string? Value)[] Settings() => [("Relay:Store", "redis"), ("Relay:Redis", Redis.ConnectionString)];

    public override Task StartAsync() => Redis.InitializeAsync();

    public override Task StopAsync() => Redis.DisposeAsync();

    public override async Task<List<UsageRecord>> LedgerAsync(RelayHost host, params string[] tenants)
    {
        var records = new List<UsageRecord>();
        foreach (var tenant in tenants)
        {
            var entries = (RedisResult[])(await Redis.Connection.ExecuteAsync("XRANGE", "{t:" + tenant + "}:ledger", "-", "+"))!;
            foreach (var entry in entries)
            {
                // One commit's records an entry, a field r each (one record an entry before issue 16).
                var fields = (RedisResult[])((RedisResult[])entry!)[1]!;
                for (var i = 1; i < fields.Length; i += 2)
                {
                    records.Add(JsonSerializer.Deserialize((string)fields[i]!, UsageJsonContext.Default.UsageRecord)!);
                }
            }
        }

        return records;
    }
}
