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

    /// <summary>The last month <see cref="MonthOf"/> named (replaced whole, so readers on any thread see one consistent span).</summary>
    private static MonthSpan? s_lastMonth;

    /// <summary>
    /// The budget month a moment belongs to, e.g. <c>2026-11</c>. The last month's name is kept with its bounds: every
    /// settled request asks (the usage log twice, the tenant book), and formatting a new string each time was an
    /// allocation and a custom date format per call.
    /// </summary>
    public static string MonthOf(DateTimeOffset moment)
    {
        var ticks = moment.UtcTicks;
        if (s_lastMonth is { } last && ticks >= last.FirstTicks && ticks < last.NextTicks)
        {
            return last.Name;
        }

        var utc = moment.UtcDateTime;
        var first = new DateTime(utc.Year, utc.Month, 1, 0, 0, 0, DateTimeKind.Utc);
        var next = utc.Year == DateTime.MaxValue.Year && utc.Month == 12 ? long.MaxValue : first.AddMonths(1).Ticks;
        var name = utc.ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture);
        s_lastMonth = new MonthSpan(first.Ticks, next, name);
        return name;
    }

    /// <summary>Reads a budget month as <see cref="MonthOf"/> writes it (<c>YYYY-MM</c>); <paramref name="first"/> is its first day.</summary>
    public static bool TryParseMonth(string? month, out DateTime first) =>
        DateTime.TryParseExact(month, "yyyy-MM", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out first);

    /// <summary>A month's name and its bounds in UTC ticks: <c>[FirstTicks, NextTicks)</c>.</summary>
    private sealed record MonthSpan(long FirstTicks, long NextTicks, string Name);
}
