using System.Buffers;
using System.Text.Json;
using RelayCluster.Core.Auth;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Metering.Reports;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Http;

namespace RelayCluster.Silo.Api;

/// <summary>
/// <c>GET /admin/tenants/{id}/usage/daily?month=YYYY-MM</c> (the month defaults to the current UTC one):
/// <c>{"object":"list","tenant","month","data":[{"date":"YYYY-MM-DD","requests","errors","prompt_tokens",
/// "completion_tokens","cached_tokens","cost_usd","cost_nanos"}]}</c>, every day of the month up to today (a past month:
/// all its days; a future month: none), zeros included. From the per-day counters the stores keep as usage is booked
/// (<see cref="UsageDays"/>; one aggregate or one hash read), never a scan of the records. <c>errors</c>: requests that
/// ended other than <c>completed</c>. 400 (param <c>month</c>) for a malformed month, 404 for an unknown tenant.
/// </summary>
internal static class AdminUsageDailyApi
{
    public static RouteGroupBuilder MapAdminUsageDailyApi(this RouteGroupBuilder admin)
    {
        admin.MapGet("/tenants/{id}/usage/daily", GetAsync);
        return admin;
    }

    private static async Task<IResult> GetAsync(string id, string? month, HttpContext context, ITenantDirectory tenants, IUsageReader usage, TimeProvider time)
    {
        var today = time.GetUtcNow().UtcDateTime.Date;
        month ??= Money.MonthOf(today);
        if (!Money.TryParseMonth(month, out var first))
        {
            return await ErrorResponses.FailAsync(context, RelayError.InvalidValue("month", "expected a month as YYYY-MM."));
        }

        if (await tenants.GetAsync(id) is not { } tenant)
        {
            return await ErrorResponses.FailAsync(context, RelayError.NotFound($"tenant '{id}'"));
        }

        var days = await usage.GetDaysAsync(id, tenant.Incarnation, month); // this tenant's, not a deleted one's of the same id
        var shown = first > today ? 0 : first.Year == today.Year && first.Month == today.Month ? today.Day : days.Count;
        return Results.Bytes(Write(id, month, days.Take(shown)), "application/json");
    }

    private static byte[] Write(string tenant, string month, IEnumerable<UsageDay> days)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteString("tenant", tenant);
            w.WriteString("month", month);
            w.WriteStartArray("data");
            foreach (var day in days)
            {
                w.WriteStartObject();
                w.WriteString("date", day.Date);
                w.WriteNumber("requests", day.Requests);
                w.WriteNumber("errors", day.Errors);
                w.WriteNumber("prompt_tokens", day.PromptTokens);
                w.WriteNumber("completion_tokens", day.CompletionTokens);
                w.WriteNumber("cached_tokens", day.CachedTokens);
                w.WriteNumber("cost_usd", Money.ToUsd(day.CostNanos));
                w.WriteNumber("cost_nanos", day.CostNanos);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
