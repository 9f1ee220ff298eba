using RelayCluster.Core.Auth;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Metering.Reports;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Http;

namespace RelayCluster.Silo.Api;

/// <summary>
/// /admin/usage/report: where the money goes, per tenant and model, from the totals the stores keep as usage is booked
/// (one aggregate or one Redis hash read per tenant, whatever the number of records), and what the same month would cost
/// at another price table. Tenants are the directory's (configured, demo and admin-created alike) with usage in the month;
/// a deleted tenant is not in the directory and its usage was set aside at the purge, so it is not reported (as
/// <c>/admin/tenants/{id}/usage</c> shows only the current tenant of an id).
/// </summary>
internal static class AdminUsageReportApi
{
    public static RouteGroupBuilder MapAdminUsageReportApi(this RouteGroupBuilder admin)
    {
        admin.MapGet("/usage/report", GetReportAsync);
        admin.MapPost("/usage/report/compare", CompareAsync);
        return admin;
    }

    /// <summary>
    /// <c>GET /admin/usage/report?month=YYYY-MM&amp;tenant=id</c> (both optional; the month defaults to the current UTC one):
    /// JSON (see <see cref="UsageReportFormats"/>), or CSV when the Accept header asks for <c>text/csv</c>. 400 (param
    /// <c>month</c>) for a malformed month, 404 for a tenant the directory does not hold.
    /// </summary>
    private static async Task<IResult> GetReportAsync(string? month, string? tenant, HttpContext context, ITenantDirectory tenants, IUsageReader usage, TimeProvider time)
    {
        var (selection, error) = await SelectAsync(month, tenant, tenants, time);
        if (error is not null)
        {
            return await ErrorResponses.FailAsync(context, error);
        }

        var report = UsageReport.Build(selection!.Month, await ReadAsync(selection, usage));
        return WantsCsv(context.Request)
            ? Results.Text(UsageReportFormats.ToCsv(report), "text/csv; charset=utf-8; header=present")
            : Results.Bytes(UsageReportFormats.ToJson(report, tenant), "application/json");
    }

    /// <summary><c>POST /admin/usage/report/compare</c> with a <see cref="UsageCompareRequest"/>: see <see cref="PriceComparison"/>.</summary>
    private static async Task<IResult> CompareAsync(HttpContext context, ITenantDirectory tenants, IUsageReader usage, TimeProvider time, RelayOptions options)
    {
        var (body, invalid) = await JsonBody.ReadObjectAsync(context);
        if (body is null)
        {
            return await ErrorResponses.FailAsync(context, invalid!);
        }

        var (request, requestError) = UsageCompareRequest.Parse(body);
        if (requestError is not null)
        {
            return await ErrorResponses.FailAsync(context, requestError);
        }

        var (selection, error) = await SelectAsync(request!.Month, request.Tenant, tenants, time);
        if (error is not null)
        {
            return await ErrorResponses.FailAsync(context, error);
        }

        // The default batch factor is the relay's own: the alternative then differs from the current prices only in the table.
        var batchFactor = request.BatchFactor ?? options.Batches.PriceFactor;
        var lines = PriceComparison.Compare(await ReadAsync(selection!, usage), request.Prices, batchFactor);
        return Results.Bytes(PriceComparison.ToJson(selection!.Month, request.Tenant, batchFactor, lines), "application/json");
    }

    /// <summary>The month and the tenants (id, incarnation) a report covers, or the 400/404 the query earns.</summary>
    private static async Task<(Selection? Selection, RelayError? Error)> SelectAsync(string? month, string? tenant, ITenantDirectory tenants, TimeProvider time)
    {
        month ??= Money.MonthOf(time.GetUtcNow());
        if (!Money.TryParseMonth(month, out _))
        {
            return (null, RelayError.InvalidValue("month", "expected a month as YYYY-MM."));
        }

        if (tenant is not null)
        {
            return TenantIds.IsValid(tenant) && await tenants.GetAsync(tenant) is { } entry
                ? (new Selection(month, [(entry.Id, entry.Incarnation)]), null)
                : (null, RelayError.NotFound($"tenant '{(tenant.Length <= TenantIds.MaxLength ? tenant : tenant[..TenantIds.MaxLength] + "…")}'"));
        }

        var entries = await Task.WhenAll((await tenants.ListAsync()).Select(tenants.GetAsync));
        return (new Selection(month, [.. entries.OfType<TenantEntry>().Select(e => (e.Id, e.Incarnation))]), null);
    }

    private static async Task<IReadOnlyList<TenantUsage>> ReadAsync(Selection selection, IUsageReader usage) =>
        await Task.WhenAll(selection.Tenants.Select(async t => new TenantUsage(t.Id, await usage.GetSlicesAsync(t.Id, t.Incarnation, selection.Month))));

    /// <summary>
    /// CSV when the Accept header rates <c>text/csv</c> above zero and at least as high as <c>application/json</c> (a
    /// client that prefers JSON, <c>application/json, text/csv;q=0.1</c>, gets JSON); wildcards leave the default, JSON.
    /// </summary>
    private static bool WantsCsv(HttpRequest request)
    {
        double csv = 0, json = 0;
        foreach (var accept in request.GetTypedHeaders().Accept)
        {
            var quality = accept.Quality ?? 1;
            if (accept.MediaType.Equals("text/csv", StringComparison.OrdinalIgnoreCase))
            {
                csv = Math.Max(csv, quality);
            }
            else if (accept.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase))
            {
                json = Math.Max(json, quality);
            }
        }

        return csv > 0 && csv >= json;
    }

    private sealed record Selection(string Month, IReadOnlyList<(string Id, string Incarnation)> Tenants);
}
