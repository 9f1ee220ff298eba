using RelayCluster.Core.Metering;
using RelayCluster.Core.Wire;

namespace RelayCluster.Tests.Metering;

/// <summary>Token and money arithmetic never wraps and never throws, whatever the counts.</summary>
public sealed class SaturatingArithmeticTests
{
    [Theory]
    [InlineData(long.MaxValue, 1, long.MaxValue)]
    [InlineData(long.MinValue, -1, long.MinValue)]
    [InlineData(5, -7, -2)]
    public void Sums_clamp_instead_of_wrapping(long a, long b, long expected) => Assert.Equal(expected, Saturating.Add(a, b));

    [Theory]
    [InlineData(144_115_188_074_823_680, 128, long.MaxValue)] // wrapped to −134,217,728 × … before
    [InlineData(-4, long.MaxValue, long.MinValue)]
    [InlineData(4096, 128, 524_288)]
    public void Products_clamp_instead_of_wrapping(long a, long b, long expected) => Assert.Equal(expected, Saturating.Multiply(a, b));

    [Theory]
    [InlineData(long.MaxValue, "1.10", long.MaxValue)] // an OverflowException (a 500) before
    [InlineData(-1_000, "1.10", 0)]
    [InlineData(1_000_000, "0.27", 270_000_000)]
    [InlineData(1, "0.27", 270)]
    public void Costs_saturate_and_never_go_negative(long tokens, string usdPerMTok, long expected) =>
        Assert.Equal(expected, Money.CostNanos(tokens, decimal.Parse(usdPerMTok, System.Globalization.CultureInfo.InvariantCulture)));

    [Fact]
    public void Absurd_reported_usage_is_clamped_not_thrown()
    {
        var facts = ChunkInspector.Inspect("""{"usage":{"prompt_tokens":1e300,"completion_tokens":-99999999999999999999}}"""u8);
        Assert.Equal(new ReportedUsage(ChunkInspector.MaxReportedTokens, 0), facts.Usage);

        var fractional = ChunkInspector.Inspect("""{"usage":{"prompt_tokens":12.7,"completion_tokens":-3}}"""u8);
        Assert.Equal(new ReportedUsage(12, 0), fractional.Usage);
    }
}
