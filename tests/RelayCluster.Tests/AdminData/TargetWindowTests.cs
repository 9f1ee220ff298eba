using RelayCluster.Silo.Routing;

namespace RelayCluster.Tests.AdminData;

/// <summary>The per-target window behind /admin/routes/stats: 60 one-second slots and fixed latency buckets.</summary>
public sealed class TargetWindowTests
{
    [Fact]
    public void A_second_counts_for_60_seconds_and_its_slot_is_reused_after()
    {
        var window = new TargetWindow();
        window.Record(100, error: false, latencyMs: 10);
        window.Record(100, error: true, latencyMs: null);
        window.Record(130, error: true, latencyMs: 1000);

        var sums = new long[TargetWindow.SumsLength];
        Assert.True(window.AddTo(159, sums));
        Assert.Equal((3L, 2L), (sums[0], sums[1]));

        sums = new long[TargetWindow.SumsLength];
        window.AddTo(160, sums); // second 100 has left the window
        Assert.Equal((1L, 1L), (sums[0], sums[1]));

        window.Record(160, error: false, latencyMs: 5); // the slot of second 100, emptied first
        sums = new long[TargetWindow.SumsLength];
        window.AddTo(160, sums);
        Assert.Equal((2L, 1L), (sums[0], sums[1]));
        Assert.False(window.AddTo(300, new long[TargetWindow.SumsLength]));
    }

    [Theory]
    [InlineData(0.3, 1.0)]
    [InlineData(1.0, 1.0)]
    [InlineData(1.1, 1.25)]
    [InlineData(100, 108.42)] // 1.25^21
    [InlineData(1e9, 267_276.47)] // past the last bound: the overflow bucket reads as 1.25^56
    public void A_latency_reads_back_as_its_buckets_upper_bound(double ms, double bound)
    {
        var window = new TargetWindow();
        window.Record(1, error: false, latencyMs: ms);
        var sums = new long[TargetWindow.SumsLength];
        window.AddTo(1, sums);
        Assert.Equal(bound, LatencyBuckets.Percentile(sums, 2, 0.5));
        Assert.True(ms > 1e6 || bound >= ms && bound <= Math.Max(1, ms * 1.25));
    }

    [Fact]
    public void P50_and_p99_are_nearest_ranks_of_the_histogram()
    {
        var window = new TargetWindow();
        for (var i = 0; i < 98; i++)
        {
            window.Record(5, error: false, latencyMs: 10);
        }

        window.Record(5, error: false, latencyMs: 500);
        window.Record(5, error: false, latencyMs: 500);
        var sums = new long[TargetWindow.SumsLength];
        window.AddTo(5, sums);
        Assert.Equal(11.64, LatencyBuckets.Percentile(sums, 2, 0.50)); // 1.25^11 ≥ 10
        Assert.Equal(516.99, LatencyBuckets.Percentile(sums, 2, 0.99)); // rank 99 is a 500 ms try: 1.25^28
        Assert.Null(LatencyBuckets.Percentile(new long[TargetWindow.SumsLength], 2, 0.5));
    }
}
