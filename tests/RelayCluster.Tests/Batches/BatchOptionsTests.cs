using RelayCluster.Core.Configuration;

namespace RelayCluster.Tests.Batches;

public sealed class BatchOptionsTests
{
    private static IEnumerable<string> Failures(Action<RelayOptions> change)
    {
        var options = new RelayOptions();
        RelayOptionsDefaults.Apply(options);
        change(options);
        return new RelayOptionsValidator().Validate(null, options).Failures ?? [];
    }

    [Fact]
    public void The_defaults_are_valid()
    {
        Assert.Empty(Failures(_ => { }));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.5)]
    public void A_capacity_share_outside_zero_to_one_is_refused_at_start(double share)
    {
        Assert.Contains(Failures(o => o.Batches.CapacityShare = share), f => f.Contains("CapacityShare", StringComparison.Ordinal));
    }

    [Fact]
    public void Nonsense_worker_settings_are_refused_at_start()
    {
        Assert.Contains(Failures(o => o.Batches.ChunkSize = 0), f => f.StartsWith("Relay:Batches", StringComparison.Ordinal));
        Assert.Contains(Failures(o => (o.Batches.RetryBaseMs, o.Batches.RetryMaxMs) = (500, 100)), f => f.StartsWith("Relay:Batches", StringComparison.Ordinal));
        Assert.Contains(Failures(o => o.SyncBatch.Concurrency = 0), f => f.StartsWith("Relay:SyncBatch", StringComparison.Ordinal));
    }
}
