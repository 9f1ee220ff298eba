using System.Globalization;
using RelayCluster.Core.Files;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Http;

namespace RelayCluster.Silo.Api;

/// <summary>
/// The OpenAI Files API. Every call is scoped to the calling tenant: another tenant's file answers exactly as a
/// file that does not exist (a malformed id too, checked before the store is asked). Every call is admitted by the
/// tenant grain (RPM, concurrency, pause) like a model call.
/// </summary>
public static class FilesApi
{
    private const int MaxListLimit = 10_000;

    public static IEndpointRouteBuilder MapFilesApi(this IEndpointRouteBuilder app)
    {
        var files = app.MapGroup("/v1/files")
            .RequireTenantAdmission()
            .RequireIdFormats(IdRule.Path("id", FileIds.IsValid, FileErrors.NotFound), IdRule.Cursor(FileIds.IsValid));
        files.MapPost("", FilesUpload.HandleAsync).WithMetadata(FileUploadBody.Instance); // the one body above Relay:Requests:MaxBodyBytes
        files.MapGet("", ListAsync);
        files.MapGet("/{id}", RetrieveAsync);
        files.MapGet("/{id}/content", ContentAsync);
        files.MapDelete("/{id}", DeleteAsync);
        return app;
    }

    private static async Task<IResult> ListAsync(HttpContext context, IFileStore store, string? purpose, string? limit, string? order, string? after)
    {
        var count = MaxListLimit;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count is < 1 or > MaxListLimit))
        {
            return await ErrorResponses.FailAsync(context, RelayError.InvalidValue("limit", $"expected an integer between 1 and {MaxListLimit}, but got '{limit}' instead."));
        }

        if (order is not (null or "asc" or "desc"))
        {
            return await ErrorResponses.FailAsync(context, RelayError.InvalidValue("order", $"expected 'asc' or 'desc', but got '{order}' instead."));
        }

        var page = await store.ListAsync(context.Tenant().Id, purpose, after, count, order != "asc", context.RequestAborted);
        var data = page.Files.Select(FileObject.From).ToList();
        return TypedResults.Ok(new FileList("list", data, data.FirstOrDefault()?.Id, data.LastOrDefault()?.Id, page.HasMore));
    }

    private static async Task<IResult> RetrieveAsync(string id, HttpContext context, IFileStore store) =>
        await store.GetAsync(context.Tenant().Id, id, context.RequestAborted) is { } file
            ? TypedResults.Ok(FileObject.From(file))
            : await ErrorResponses.FailAsync(context, FileErrors.NotFound(id));

    private static async Task<IResult> ContentAsync(string id, HttpContext context, IFileStore store)
    {
        // Served as bytes whatever the Accept header: the Python SDK asks for application/binary.
        var content = await store.OpenReadAsync(context.Tenant().Id, id, context.RequestAborted);
        return content is null ? await ErrorResponses.FailAsync(context, FileErrors.NotFound(id)) : TypedResults.Stream(content, "application/octet-stream");
    }

    private static async Task<IResult> DeleteAsync(string id, HttpContext context, IFileStore store) =>
        await store.DeleteAsync(context.Tenant().Id, id, context.RequestAborted)
            ? TypedResults.Ok(new FileDeleted(id, "file", true))
            : await ErrorResponses.FailAsync(context, FileErrors.NotFound(id));
}
