namespace RelayCluster.Tests.Infrastructure;

/// <summary>
/// A silo on the Redis store with a redis-server of its own (tests that stop Redis must not share it),
/// started and stopped with the test class.
/// </summary>
public abstract class RedisRelay : IAsyncLifetime
{
    protected RedisServer Redis { get; } = new();

    protected RelayHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Redis.InitializeAsync();
        Host = new RelayHost(RelayHost.SimulatorSettings(
            [("Relay:Store", "redis"), ("Relay:Redis", Redis.ConnectionString), .. Settings()]));
    }

    public async Task DisposeAsync()
    {
        Host.Dispose();
        await Redis.DisposeAsync();
    }

    /// <summary>The silo's settings beyond the store: tenants, options.</summary>
    protected abstract (string Key, string? Value)[] Settings();
}
