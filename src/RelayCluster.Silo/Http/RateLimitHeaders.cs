using System.Globalization;
using System.Text;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Silo.Http;

/// <summary>
/// OpenAI's <c>x-ratelimit-*</c> headers from a window state. Resets are Go-style durations
/// (<c>12ms</c>, <c>1s</c>, <c>6m0s</c>) as OpenAI sends them. An unlimited dimension gets no headers.
/// </summary>
internal static class RateLimitHeaders
{
    private static readonly object WrittenKey = new();

    public static bool AreWritten(HttpResponse response) => response.HttpContext.Items.ContainsKey(WrittenKey);

    public static void Write(HttpResponse response, RateLimitState state)
    {
        response.HttpContext.Items[WrittenKey] = null;
        var headers = response.Headers;
        if (state.RequestLimit is { } requestLimit)
        {
            headers["x-ratelimit-limit-requests"] = requestLimit.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-remaining-requests"] = state.RequestsRemaining.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-reset-requests"] = GoDuration(state.RequestsReset);
        }

        if (state.TokenLimit is { } tokenLimit)
        {
            headers["x-ratelimit-limit-tokens"] = tokenLimit.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-remaining-tokens"] = state.TokensRemaining.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-reset-tokens"] = GoDuration(state.TokensReset);
        }
    }

    /// <summary>Formats like Go's <c>time.Duration.String()</c>: <c>0s</c>, <c>250ms</c>, <c>1.5s</c>, <c>1m30s</c>.</summary>
    public static string GoDuration(TimeSpan duration)
    {
        if (duration <= TimeSpan.Zero)
        {
            return "0s";
        }

        if (duration < TimeSpan.FromSeconds(1))
        {
            return ((long)Math.Ceiling(duration.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture) + "ms";
        }

        var text = new StringBuilder();
        if (duration.TotalHours >= 1)
        {
            text.Append(CultureInfo.InvariantCulture, $"{(long)duration.TotalHours}h");
        }

        if (duration.TotalMinutes >= 1)
        {
            text.Append(CultureInfo.InvariantCulture, $"{duration.Minutes}m");
        }

        var seconds = duration.Seconds + (Math.Ceiling(duration.Milliseconds / 10.0) / 100.0);
        text.Append(seconds.ToString("0.##", CultureInfo.InvariantCulture)).Append('s');
        return text.ToString();
    }
}
