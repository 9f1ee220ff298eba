using RelayCluster.Silo.Http;

namespace RelayCluster.Tests.Wire;

public sealed class GoDurationTests
{
    [Theory]
    [InlineData(0, "0s")]
    [InlineData(12, "12ms")]
    [InlineData(1000, "1s")]
    [InlineData(1500, "1.5s")]
    [InlineData(59_891, "59.9s")]
    [InlineData(360_000, "6m0s")]
    [InlineData(90_500, "1m30.5s")]
    [InlineData(3_600_000, "1h0m0s")]
    public void Formats_like_go(int milliseconds, string expected)
    {
        Assert.Equal(expected, RateLimitHeaders.GoDuration(TimeSpan.FromMilliseconds(milliseconds)));
    }
}
