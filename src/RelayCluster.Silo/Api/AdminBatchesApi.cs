using RelayCluster.Core.Auth;
using RelayCluster.Core.Batches;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Batches;
using RelayCluster.Silo.Http;

namespace RelayCluster.Silo.Api;

/// <summary>
/// <c>GET /admin/tenants/{id}/batches[?after&amp;limit]</c> and <c>GET /admin/tenants/{id}/batches/{batchId}</c>: any
/// tenant's batches as the tenant sees them (status, counts, usage, files), newest first, for support and
/// operations. <c>POST …/{batchId}/cancel</c> cancels one on the tenant's behalf.
/// </summary>
internal static class AdminBatchesApi
{
    public static RouteGroupBuilder MapAdminBatchesApi(this RouteGroupBuilder admin)
    {
        admin.MapGet("/tenants/{id}/batches", ListAsync).RequireIdFormats(IdRule.Cursor(BatchIds.IsValid));
        admin.MapGet("/tenants/{id}/batches/{batchId}", GetAsync);
        admin.MapPost("/tenants/{id}/batches/{batchId}/cancel", CancelAsync);
        admin.MapGet("/tenants/{id}/batches/{batchId}/grain", GetGrainAsync);
        return admin;
    }

    private static async Task<IResult> ListAsync(string id, string? after, string? limit, HttpContext context, ITenantDirectory tenants, IBatches store)
    {
        // limit as text: a non-number must get the envelope, not the framework's bare binding 400.
        var count = 20;
        if (limit is not null && (!int.TryParse(limit, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out count) || count is < 1 or > 100))
        {
            return await ErrorResponses.FailAsync(context, RelayError.InvalidValue("limit", $"expected an integer between 1 and 100, but got '{limit}' instead."));
        }

        if (await tenants.GetAsync(id) is null)
        {
            return await ErrorResponses.FailAsync(context, RelayError.NotFound($"tenant '{id}'"));
        }

        var page = await store.ListAsync(id, after, count);
        return Results.Bytes(BatchJson.SerializePage(page, tenant: id), "application/json");
    }

    private static async Task<IResult> GetAsync(string id, string batchId, HttpContext context, IBatches store) =>
        await store.GetAsync(id, batchId) is { } batch
            ? Results.Bytes(BatchJson.Serialize(batch), "application/json")
            : await ErrorResponses.FailAsync(context, RelayError.NotFound($"batch '{batchId}' of tenant '{id}'"));

    private static async Task<IResult> CancelAsync(string id, string batchId, HttpContext context, IBatches store, TimeProvider time)
    {
        if (await store.CancelAsync(id, batchId, time.GetUtcNow().ToUnixTimeSeconds()) is not { } batch)
        {
            return await ErrorResponses.FailAsync(context, RelayError.NotFound($"batch '{batchId}' of tenant '{id}'"));
        }

        if (batch.Status is not (BatchStatus.Cancelling or BatchStatus.Cancelled))
        {
            // As the public API answers it.
            return await ErrorResponses.FailAsync(context, RelayError.BadRequest($"Cannot cancel a batch with status '{batch.Status}'.", null, "batch_not_cancellable"));
        }

        return Results.Bytes(BatchJson.Serialize(batch), "application/json");
    }

    /// <summary>Which silo holds the batch's grain (for operators, and the failover tests that kill it).</summary>
    private static async Task<IResult> GetGrainAsync(string id, string batchId, HttpContext context, IBatches store, OrleansBatches grains)
    {
        if (!BatchIds.IsValid(batchId) || await store.GetAsync(id, batchId) is null)
        {
            return await ErrorResponses.FailAsync(context, RelayError.NotFound($"batch '{batchId}' of tenant '{id}'"));
        }

        var address = await grains.HostOfAsync(batchId);
        var at = address.IndexOf('@', StringComparison.Ordinal);
        return TypedResults.Ok(new GrainView("batch.grain", batchId, address, at < 0 ? address : address[..at]));
    }
}
