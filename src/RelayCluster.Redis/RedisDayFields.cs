using RelayCluster.Core.Metering.Reports;

namespace RelayCluster.Redis;

/// <summary>
/// The per-day counters in a tenant's monthly usage hash (<c>{t:id}:usage:YYYY-MM</c>), beside the summary's and the
/// report's fields: <c>d:DD:requests|errors|prompt|completion|cached|cost</c> (<c>d:07:cost</c>), the counters of
/// <see cref="UsageDays"/> in its order. At most 31 × 6 fields a month. Written by the tenant commit that books the usage,
/// so a day's counters equal its records. A month begun before these fields existed has zeros for the days before the
/// upgrade (its month totals are whole).
/// </summary>
internal static class RedisDayFields
{
    public const string Prefix = "d:";
    public const int Requests = 0;
    public const int Errors = 1;
    public const int Prompt = 2;
    public const int Completion = 3;
    public const int Cached = 4;
    public const int Cost = 5;

    private static readonly string[] CounterNames = ["requests", "errors", "prompt", "completion", "cached", "cost"];

    // Built once: commits run on the hot path's settle turns.
    private static readonly string[][] Names = [.. Enumerable.Range(1, UsageDays.MaxDays)
        .Select(day => CounterNames.Select(c => $"{Prefix}{day:00}:{c}").ToArray())];

    /// <summary>The field names of day <paramref name="day"/> (1-based), indexed by the counter constants.</summary>
    public static string[] Of(int day) => Names[day - 1];

    /// <summary>Reads <c>d:DD:counter</c> into (day, counter index); false for any other field.</summary>
    public static bool TryParse(string field, out int day, out int counter)
    {
        day = counter = 0;
        if (field.Length < 6 || !field.StartsWith(Prefix, StringComparison.Ordinal) || field[4] != ':'
            || !int.TryParse(field.AsSpan(2, 2), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out day)
            || day is < 1 or > UsageDays.MaxDays)
        {
            return false;
        }

        counter = Array.IndexOf(CounterNames, field[5..]);
        return counter >= 0;
    }
}
