using RelayCluster.Core.Auth;
using RelayCluster.Core.Files;
using RelayCluster.Core.Wire;

namespace RelayCluster.Silo.Http;

/// <summary>
/// The fence for work that outlives its tenant: a request authenticated before its tenant was deleted may still be
/// writing when the id is created again. A write it makes is checked afterwards against the directory: if the id's
/// tenant is no longer the one the request authenticated as (deleted, or another incarnation), the write is undone.
/// Checking after the write is what makes it exact: a write that lands before the check is either still seen by the
/// delete's purge (the tenant was live at the check) or undone here (it was not); the re-create's purge runs before
/// the new tenant is published, so it cannot miss both.
/// </summary>
internal static class TenantFence
{
    /// <summary>Whether the id's tenant is still the one this request authenticated as.</summary>
    public static async Task<bool> IsCurrentAsync(HttpContext context)
    {
        var tenant = context.Tenant();
        var entry = await context.RequestServices.GetRequiredService<ITenantDirectory>().GetAsync(tenant.Id);
        return entry?.Incarnation == tenant.Incarnation;
    }

    /// <summary>
    /// Commits an upload unless its tenant was deleted meanwhile: null then, with nothing left behind (a purge that
    /// moved the staging file away, or a commit the fence undid).
    /// </summary>
    public static async Task<StoredFile?> CommitAsync(HttpContext context, IStagedFile staged, string filename, string purpose, long? expiresAfter)
    {
        StoredFile file;
        try
        {
            file = await staged.CommitAsync(filename, purpose, expiresAfter, context.RequestAborted);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            if (await IsCurrentAsync(context))
            {
                throw; // not a purge: a real fault
            }

            return null; // the tenant's directory was purged under the upload
        }

        if (await IsCurrentAsync(context))
        {
            return file;
        }

        await context.RequestServices.GetRequiredService<IFileStore>().DeleteAsync(file.TenantId, file.Id, CancellationToken.None);
        return null;
    }

    /// <summary>What a request of a deleted tenant gets: the 401 its key gets from now on.</summary>
    public static RelayError Deleted(HttpContext context) =>
        RelayError.InvalidApiKey(ApiKeyHash.Redact(TenantAuthenticationMiddleware.BearerToken(context.Request) ?? ""));
}
