using System.Globalization;
using RelayCluster.Core.Batches;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Files;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Batches;
using RelayCluster.Silo.Http;

namespace RelayCluster.Silo.Api;

/// <summary>
/// The OpenAI Batch API: create, retrieve, list (newest first, cursor pages) and cancel. Every call is scoped
/// to the calling tenant; another tenant's batch answers exactly as one that does not exist. The work itself
/// is done by the batch's grains on the silos. Ids are checked against <see cref="BatchIds"/> before any store is
/// asked, and every call is admitted by the tenant grain (RPM, concurrency, pause) like a model call.
/// </summary>
public static class BatchesApi
{
    public static IEndpointRouteBuilder MapBatchesApi(this IEndpointRouteBuilder app)
    {
        var batches = app.MapGroup("/v1/batches")
            .RequireTenantAdmission()
            .RequireIdFormats(IdRule.Path("id", BatchIds.IsValid, NotFound), IdRule.Cursor(BatchIds.IsValid));
        batches.MapPost("", CreateAsync);
        batches.MapGet("", ListAsync);
        batches.MapGet("/{id}", RetrieveAsync);
        batches.MapPost("/{id}/cancel", CancelAsync);
        return app;
    }

    private static async Task<IResult> CreateAsync(HttpContext context, IBatches store, IFileStore files, RelayOptions options, TimeProvider time)
    {
        var tenant = context.Tenant();
        var (body, bodyError) = await BodyReader.ReadAsync(context.Request, options.Requests.MaxBodyBytes);
        if (bodyError is not null)
        {
            return await ErrorResponses.FailAsync(context, bodyError);
        }

        var (request, error) = BatchCreateRequest.Parse(body);
        if (request is null)
        {
            return await ErrorResponses.FailAsync(context, error!);
        }

        var input = await files.GetAsync(tenant.Id, request.InputFileId, context.RequestAborted);
        if (input is null)
        {
            return await ErrorResponses.FailAsync(context, RelayError.InvalidValue("input_file_id", $"no file '{request.InputFileId}' exists."));
        }

        if (input.Purpose != "batch")
        {
            return await ErrorResponses.FailAsync(context, RelayError.InvalidValue("input_file_id", $"the file's purpose is '{input.Purpose}', but a batch needs 'batch'."));
        }

        var now = time.GetUtcNow().ToUnixTimeSeconds();
        var id = BatchIds.New();
        await context.RequestServices.GetRequiredService<BatchProgress>().OpenAsync(tenant.Id, id);
        await store.CreateAsync(new BatchCreation(id, tenant.Id, request.Endpoint, request.InputFileId, request.MetadataJson, now,
            now + options.Batches.CompletionWindowSeconds));
        return Batch((await store.GetAsync(tenant.Id, id))!);
    }

    private static async Task<IResult> RetrieveAsync(string id, HttpContext context, IBatches store) =>
        await store.GetAsync(context.Tenant().Id, id) is { } batch ? Batch(batch) : await ErrorResponses.FailAsync(context, NotFound(id));

    private static async Task<IResult> CancelAsync(string id, HttpContext context, IBatches store, TimeProvider time)
    {
        var batch = await store.CancelAsync(context.Tenant().Id, id, time.GetUtcNow().ToUnixTimeSeconds());
        if (batch is null)
        {
            return await ErrorResponses.FailAsync(context, NotFound(id));
        }

        if (batch.Status is not (BatchStatus.Cancelling or BatchStatus.Cancelled))
        {
            return await ErrorResponses.FailAsync(context, RelayError.BadRequest($"Cannot cancel a batch with status '{batch.Status}'.", null, "batch_not_cancellable"));
        }

        return Batch(batch); // the batch's grain published the change to its subscribers
    }

    private static async Task<IResult> ListAsync(HttpContext context, IBatches store, string? after, string? limit)
    {
        var count = 20;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count is < 1 or > 100))
        {
            return await ErrorResponses.FailAsync(context, RelayError.InvalidValue("limit", $"expected an integer between 1 and 100, but got '{limit}' instead."));
        }

        var page = await store.ListAsync(context.Tenant().Id, after, count);
        return Results.Bytes(BatchJson.SerializePage(page), "application/json");
    }

    private static IResult Batch(BatchState batch) => Results.Bytes(BatchJson.Serialize(batch), "application/json");

    private static RelayError NotFound(string id) => new(404, new OpenAiError($"No such Batch object: {id}", "invalid_request_error", "id", null));
}
