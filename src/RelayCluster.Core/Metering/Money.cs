namespace RelayCluster.Core.Metering;

/// <summary>
/// Money is counted in whole nano-dollars (1e-9 USD) so that every counter is an integer: exact sums,
/// and the same arithmetic in Lua (Redis) as in C#. A price of 0.27 $/MTok is 270 n$ a token.
/// </summary>
public static class Money
{
    private const decimal NanosPerUsd = 1_000_000_000m;

    /// <summary>Dollars to nano-dollars, saturating at the range of a long.</summary>
    public static long ToNanos(decimal usd)
    {
        var nanos = decimal.Round(Math.Clamp(usd, -9_000_000_000m, 9_000_000_000m) * NanosPerUsd, MidpointRounding.AwayFromZero);
        return (long)nanos;
    }

    public static decimal ToUsd(long nanos) => nanos / NanosPerUsd;

    /// <summary>
    /// Cost of <paramref name="tokens"/> at <paramref name="usdPerMillionTokens"/>, rounded up to a nano-dollar.
    /// Never throws: a negative count or price costs nothing, and a cost beyond <see cref="long.MaxValue"/> saturates
    /// there (any long count times any configurable price fits a decimal, so only the last step can overflow).
    /// </summary>
    public static long CostNanos(long tokens, decimal usdPerMillionTokens)
    {
        if (tokens <= 0 || usdPerMillionTokens <= 0)
        {
            return 0;
        }

        try
        {
            var nanos = decimal.Ceiling(tokens * usdPerMillionTokens * 1000m);
            return nanos >= long.MaxValue ? long.MaxValue : (long)nanos;
        }
        catch (OverflowException)
        {
            return long.MaxValue; // a price far beyond any configurable one
        }
    }

    /// <summary>The budget month a moment belongs to, e.g. <c>2026-11</c>.</summary>
    public static string MonthOf(DateTimeOffset moment) => moment.UtcDateTime.ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Reads a budget month as <see cref="MonthOf"/> writes it (<c>YYYY-MM</c>); <paramref name="first"/> is its first day.</summary>
    public static bool TryParseMonth(string? month, out DateTime first) =>
        DateTime.TryParseExact(month, "yyyy-MM", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out first);
}
