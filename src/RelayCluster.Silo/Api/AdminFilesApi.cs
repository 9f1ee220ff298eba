using System.Text.Json.Nodes;
using RelayCluster.Core.Auth;
using RelayCluster.Core.Files;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Http;

namespace RelayCluster.Silo.Api;

/// <summary>
/// <c>GET /admin/tenants/{id}/files/usage</c>: a tenant's file storage against its limit:
/// <c>{"object":"tenant.files_usage","tenant","files","bytes","uploading_bytes","limit_bytes"}</c>. <c>files</c> and
/// <c>bytes</c> count visible (unexpired) files; <c>uploading_bytes</c> is what uploads in progress on this silo hold.
/// </summary>
internal static class AdminFilesApi
{
    public static RouteGroupBuilder MapAdminFilesApi(this RouteGroupBuilder admin)
    {
        admin.MapGet("/tenants/{id}/files/usage", GetUsageAsync);
        return admin;
    }

    private static async Task<IResult> GetUsageAsync(string id, HttpContext context, ITenantDirectory tenants, IFileStore files)
    {
        if (await tenants.GetAsync(id) is null)
        {
            await ErrorResponses.WriteAsync(context, RelayError.NotFound($"tenant '{id}'"));
            return TypedResults.Empty;
        }

        var usage = await files.GetUsageAsync(id, context.RequestAborted);
        return Results.Json(new JsonObject
        {
            ["object"] = "tenant.files_usage",
            ["tenant"] = id,
            ["files"] = usage.Files,
            ["bytes"] = usage.Bytes,
            ["uploading_bytes"] = usage.UploadingBytes,
            ["limit_bytes"] = usage.LimitBytes,
        });
    }
}
