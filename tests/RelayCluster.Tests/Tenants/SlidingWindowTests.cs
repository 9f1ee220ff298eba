using RelayCluster.Core.Tenants;

namespace RelayCluster.Tests.Tenants;

public sealed class SlidingWindowTests
{
    [Fact]
    public void Counts_only_the_last_sixty_seconds()
    {
        var window = new SlidingWindow();
        window.Add(1000, 5);
        window.Add(1030, 7);

        Assert.Equal(12, window.Used(1059));
        Assert.Equal(7, window.Used(1060));
        Assert.Equal(0, window.Used(1090));
    }

    [Fact]
    public void A_reused_slot_starts_from_zero_after_a_full_turn()
    {
        var window = new SlidingWindow();
        window.Add(1000, 5);
        window.Add(1060, 1); // same slot, one window later

        Assert.Equal(1, window.Used(1060));
    }

    [Fact]
    public void Time_until_fits_is_when_enough_old_buckets_slide_out()
    {
        var window = new SlidingWindow();
        window.Add(1000, 3);
        window.Add(1010, 3);

        // At 1020.250 s with limit 6, one more fits once the bucket of second 1000 expires at 1060.000.
        Assert.Equal(TimeSpan.FromMilliseconds(39_750), window.TimeUntilFits(1_020_250, 1, 6));
        // Four more need both buckets gone: 1070.000.
        Assert.Equal(TimeSpan.FromMilliseconds(49_750), window.TimeUntilFits(1_020_250, 4, 6));
        Assert.Equal(TimeSpan.Zero, window.TimeUntilFits(1_020_250, 0, 6));
    }

    [Fact]
    public void Adjust_corrects_a_bucket_still_in_the_window_and_ignores_an_expired_one()
    {
        var window = new SlidingWindow();
        window.Add(1000, 100);
        window.Adjust(1000, 1010, -60);
        Assert.Equal(40, window.Used(1010));

        window.Adjust(1000, 1061, 500); // the bucket has slid out: nothing to correct
        Assert.Equal(0, window.Used(1061));
    }

    [Fact]
    public void Time_until_empty_follows_the_newest_bucket()
    {
        var window = new SlidingWindow();
        Assert.Equal(TimeSpan.Zero, window.TimeUntilEmpty(1_000_000));
        window.Add(1000, 1);
        window.Add(1020, 1);
        Assert.Equal(TimeSpan.FromSeconds(50), window.TimeUntilEmpty(1_030_000));
    }
}
