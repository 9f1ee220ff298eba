using Microsoft.AspNetCore.Http.HttpResults;
using RelayCluster.Core.Auth;
using RelayCluster.Core.Batches;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Http;

namespace RelayCluster.Silo.Api;

/// <summary>/admin: per-tenant quota and usage, behind the admin key.</summary>
public static class AdminApi
{
    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/admin").AddEndpointFilter(RequireAdminKeyAsync).RequireIdFormats(
            IdRule.Path("id", TenantIds.IsValid, id => RelayError.NotFound($"tenant '{id}'")),
            IdRule.Path("keyId", ApiKeyIds.IsValid, id => RelayError.NotFound($"key '{id}'")),
            IdRule.Path("batchId", BatchIds.IsValid, id => RelayError.NotFound($"batch '{id}'")));
        admin.MapGet("/tenants/{id}/quota", GetQuotaAsync);
        admin.MapGet("/tenants/{id}/usage", GetUsageAsync);
        admin.MapAdminTenantsApi();
        admin.MapAdminBatchesApi();
        admin.MapAdminFilesApi();
        admin.MapAdminRoutesApi();
        admin.MapAdminStreamTokensApi();
        admin.MapAdminClusterApi();
        admin.MapAdminUsageReportApi();
        Console.Live.AdminTokenApi.MapAdminConsoleTokenApi(admin);
        admin.MapAdminUsageDailyApi();
        admin.MapAdminRecentRequestsApi();
        admin.MapAdminAllBatchesApi();
        admin.MapAdminRouteStatsApi();
        return app;
    }

    private static async Task<Results<Ok<QuotaView>, EmptyHttpResult>> GetQuotaAsync(
        string id, HttpContext context, ITenantDirectory tenants, ITenantGrainFactory grains)
    {
        if (await tenants.GetAsync(id) is null)
        {
            await ErrorResponses.WriteAsync(context, RelayError.NotFound($"tenant '{id}'"));
            return TypedResults.Empty;
        }

        return TypedResults.Ok(QuotaView.From(await grains.GetTenant(id).GetQuotaAsync()));
    }

    private static async Task<Results<Ok<UsageSummary>, EmptyHttpResult>> GetUsageAsync(
        string id, string? month, HttpContext context, ITenantDirectory tenants, IUsageReader usage, TimeProvider time)
    {
        if (await tenants.GetAsync(id) is not { } tenant)
        {
            await ErrorResponses.WriteAsync(context, RelayError.NotFound($"tenant '{id}'"));
            return TypedResults.Empty;
        }

        month ??= Money.MonthOf(time.GetUtcNow());
        if (!Money.TryParseMonth(month, out _))
        {
            await ErrorResponses.WriteAsync(context, RelayError.InvalidValue("month", "expected a month as YYYY-MM."));
            return TypedResults.Empty;
        }

        return TypedResults.Ok(await usage.GetSummaryAsync(id, tenant.Incarnation, month)); // this tenant's, not a deleted one's of the same id
    }

    /// <summary>
    /// No key or a wrong key: 401. A tenant's key: 403, since the caller is known but not an admin.
    /// The admin key is compared in constant time.
    /// </summary>
    private static async ValueTask<object?> RequireAdminKeyAsync(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next)
    {
        var context = invocation.HttpContext;
        var options = context.RequestServices.GetRequiredService<RelayOptions>();
        var key = TenantAuthenticationMiddleware.BearerToken(context.Request);
        if (AdminKeys.Matches(options, key))
        {
            return await next(invocation);
        }

        var isTenantKey = key is not null && await context.RequestServices.GetRequiredService<TenantCache>().FindByKeyAsync(key) is not null;
        await ErrorResponses.WriteAsync(context, isTenantKey
            ? new RelayError(403, new OpenAiError("This key may not use the admin API.", "invalid_request_error", null, "permission_denied"), ShouldRetry: false)
            : key is null ? RelayError.MissingApiKey() : RelayError.InvalidAdminKey());
        return TypedResults.Empty;
    }
}
