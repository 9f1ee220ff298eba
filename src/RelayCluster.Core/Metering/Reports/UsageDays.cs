using System.Globalization;

namespace RelayCluster.Core.Metering.Reports;

/// <summary>
/// One day of a tenant's month (<c>GET /admin/tenants/{id}/usage/daily</c>): the requests booked that day, those that ended
/// other than <c>completed</c> (<see cref="Errors"/>), tokens (cached: the billed cached part of the prompt) and the cost
/// in nano-dollars.
/// </summary>
public sealed record UsageDay(string Date, long Requests, long Errors, long PromptTokens, long CompletionTokens, long CachedTokens, long CostNanos);

/// <summary>
/// The per-day counters both stores keep beside a month's totals, as usage is booked. The day of a record is its
/// timestamp's UTC date, kept inside the month it was booked into: a record stamped before midnight at a month's end and
/// booked after it (it belongs to the new month, see the usage log notes) counts on the new month's first day, and one
/// stamped by a silo whose clock runs ahead of the grain's counts on the booked month's last day. Each day has
/// <see cref="Counters"/> counters, in the order of <see cref="UsageDay"/>'s fields.
/// </summary>
public static class UsageDays
{
    /// <summary>Counters a day: requests, errors, prompt, completion, cached, cost.</summary>
    public const int Counters = 6;

    /// <summary>Days in the longest month: the stores size their arrays by it.</summary>
    public const int MaxDays = 31;

    /// <summary>The day of <paramref name="record"/> in <paramref name="month"/> (YYYY-MM), 1-based.</summary>
    /// <remarks>Allocates nothing: it runs in every settle's booking on both stores.</remarks>
    public static int DayOf(string month, UsageRecord record)
    {
        var stamped = DateTimeOffset.FromUnixTimeMilliseconds(record.TimestampMs).UtcDateTime;
        if (month.Length != 7
            || !int.TryParse(month.AsSpan(0, 4), NumberStyles.None, CultureInfo.InvariantCulture, out var year)
            || !int.TryParse(month.AsSpan(5, 2), NumberStyles.None, CultureInfo.InvariantCulture, out var monthNumber))
        {
            return Math.Min(stamped.Day, MaxDays);
        }

        var order = (stamped.Year * 12 + stamped.Month).CompareTo(year * 12 + monthNumber);
        return order == 0 ? stamped.Day : order < 0 ? 1 : monthNumber is >= 1 and <= 12 && year is >= 1 and <= 9999 ? DateTime.DaysInMonth(year, monthNumber) : MaxDays;
    }

    /// <summary>The days of a well-formed month (YYYY-MM); 31 for anything else, so a counter array always fits.</summary>
    public static int DaysIn(string month) =>
        Money.TryParseMonth(month, out var first)
            ? DateTime.DaysInMonth(first.Year, first.Month)
            : MaxDays;

    /// <summary>Adds a record into a day's counters (<paramref name="counters"/> at <c>(day - 1) * Counters</c>), saturating.</summary>
    public static void Add(long[] counters, int day, UsageRecord record)
    {
        var at = (day - 1) * Counters;
        counters[at] = Saturating.Add(counters[at], 1);
        counters[at + 1] = Saturating.Add(counters[at + 1], IsError(record) ? 1 : 0);
        counters[at + 2] = Saturating.Add(counters[at + 2], Math.Max(0, record.PromptTokens));
        counters[at + 3] = Saturating.Add(counters[at + 3], Math.Max(0, record.CompletionTokens));
        counters[at + 4] = Saturating.Add(counters[at + 4], UsageCounts.BilledCached(record));
        counters[at + 5] = Saturating.Add(counters[at + 5], Math.Max(0, record.CostNanos));
    }

    /// <summary>A request that ended other than <see cref="Endings.Completed"/> (as the report's error counts).</summary>
    public static bool IsError(UsageRecord record) => !string.Equals(record.Ending, Endings.Completed, StringComparison.Ordinal);

    /// <summary>Every day of <paramref name="month"/> from counters laid out as <see cref="Add"/> writes them (absent days are zeros).</summary>
    public static IReadOnlyList<UsageDay> Read(string month, long[] counters)
    {
        var days = new UsageDay[DaysIn(month)];
        for (var d = 0; d < days.Length; d++)
        {
            var at = d * Counters;
            long At(int i) => at + i < counters.Length ? counters[at + i] : 0;
            days[d] = new UsageDay(DateOf(month, d + 1), At(0), At(1), At(2), At(3), At(4), At(5));
        }

        return days;
    }

    /// <summary><c>YYYY-MM-DD</c>.</summary>
    public static string DateOf(string month, int day) => string.Create(CultureInfo.InvariantCulture, $"{month}-{day:00}");
}
