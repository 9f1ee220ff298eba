using System.Globalization;
using System.Text.Json.Nodes;
using RelayCluster.Core.Auth;
using RelayCluster.Core.Batches;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Batches;
using RelayCluster.Silo.Http;

namespace RelayCluster.Silo.Api;

/// <summary>
/// <c>GET /admin/batches?limit=N&amp;after=ID&amp;status=S</c>: every tenant's batches, newest first (by
/// <c>created_at</c>, then tenant id, then each tenant's own creation order), in OpenAI's list shape (<c>data</c>,
/// <c>first_id</c>, <c>last_id</c>, <c>has_more</c>), each Batch object with <c>"tenant"</c>. <c>limit</c> 1..100
/// (default 20), <c>after</c> the last id of the previous page (an unknown one is an empty page, as OpenAI answers it),
/// <c>status</c> one of OpenAI's batch statuses. Bad parameters: 400 naming the parameter.
/// </summary>
/// <remarks>
/// Read from the tenants' own batch indexes (<see cref="ITenantBatchesActor"/>, ids in creation order) merged on
/// <c>created_at</c>: a page reads every tenant's index (one grain call each), the head batch of each tenant and then
/// one batch per row, and with <c>after</c> finds each tenant's place by a binary search (about log₂ n batch reads per
/// tenant). A <c>status</c> filter reads batches in merge order until the page is full, so a status few batches have
/// may read many (every batch, at worst).
/// </remarks>
internal static class AdminAllBatchesApi
{
    private static readonly string[] Statuses =
    [
        BatchStatus.Validating, BatchStatus.Failed, BatchStatus.InProgress, BatchStatus.Finalizing, BatchStatus.Completed,
        BatchStatus.Expired, BatchStatus.Cancelling, BatchStatus.Cancelled,
    ];

    public static RouteGroupBuilder MapAdminAllBatchesApi(this RouteGroupBuilder admin)
    {
        admin.MapGet("/batches", ListAsync).RequireIdFormats(IdRule.Cursor(BatchIds.IsValid)); // a malformed after: 400, as the tenant-side list
        return admin;
    }

    private static async Task<IResult> ListAsync(string? limit, string? after, string? status, HttpContext context, ITenantDirectory tenants, IGrainFactory grains, IBatches batches)
    {
        var count = 20;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count is < 1 or > 100))
        {
            return await ErrorResponses.FailAsync(context, RelayError.InvalidValue("limit", $"expected an integer between 1 and 100, but got '{Shown(limit)}' instead."));
        }

        if (status is not null && !Statuses.Contains(status, StringComparer.Ordinal))
        {
            return await ErrorResponses.FailAsync(context, RelayError.InvalidValue("status", $"expected one of {string.Join(", ", Statuses)}, but got '{Shown(status)}' instead."));
        }

        var ids = await Task.WhenAll((await tenants.ListAsync()).Select(async t => (Tenant: t, Ids: await grains.GetGrain<ITenantBatchesActor>(t).AllAsync())));
        var merge = new BatchMerge(batches, [.. ids.Where(t => t.Ids.Length > 0)]);
        var page = new List<BatchState>(count);
        var hasMore = false;
        if (after is null || await merge.StartAfterAsync(after))
        {
            while (await merge.NextAsync() is { } batch)
            {
                if (status is not null && batch.Status != status)
                {
                    continue;
                }

                if (page.Count == count)
                {
                    hasMore = true;
                    break;
                }

                page.Add(batch);
            }
        }

        var data = new JsonArray();
        foreach (var batch in page)
        {
            var node = JsonNode.Parse(BatchJson.Serialize(batch))!.AsObject();
            node["tenant"] = batch.TenantId;
            data.Add(node);
        }

        return Results.Json(new JsonObject
        {
            ["object"] = "list", ["data"] = data, ["first_id"] = page.Count > 0 ? page[0].Id : null,
            ["last_id"] = page.Count > 0 ? page[^1].Id : null, ["has_more"] = hasMore,
        });
    }

    private static string Shown(string value) => value.Length <= 40 ? value : value[..40] + "…";
}
