namespace RelayCluster.Core.Metering;

/// <summary>
/// Money is counted in whole nano-dollars (1e-9 USD) so that every counter is an integer: exact sums,
/// and the same arithmetic in Lua (Redis) as in C#. A price of 0.27 $/MTok is 270 n$ a token.
/// </summary>
public static class Money
{
    private const decimal NanosPerUsd = 1_000_000_000m;

    public static long ToNanos(decimal usd) => (long)decimal.Round(usd * NanosPerUsd, MidpointRounding.AwayFromZero);

    public static decimal ToUsd(long nanos) => nanos / NanosPerUsd;

    /// <summary>Cost of <paramref name="tokens"/> at <paramref name="usdPerMillionTokens"/>, rounded up to a nano-dollar.</summary>
    public static long CostNanos(long tokens, decimal usdPerMillionTokens) =>
        (long)decimal.Ceiling(tokens * usdPerMillionTokens * 1000m);

    /// <summary>The budget month a moment belongs to, e.g. <c>2026-11</c>.</summary>
    public static string MonthOf(DateTimeOffset moment) => moment.UtcDateTime.ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture);
}
