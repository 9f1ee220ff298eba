using System.Buffers;
using System.Globalization;
using System.Text.Json;
using RelayCluster.Core.Auth;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Http;

namespace RelayCluster.Silo.Api;

/// <summary>
/// <c>GET /admin/tenants/{id}/requests?limit=N</c> (1..200, default 50): <c>{"object":"list","data":[record…],
/// "has_more"}</c>, the tenant's latest usage records, newest first, each as the ledger's own JSON record (the usage
/// log's line; on Redis the ledger stream's entry). Bounded work per call on both stores (see
/// <see cref="IUsageReader.GetRecentAsync"/>); only that tenant's records, and only the current tenant of the id.
/// 400 (param <c>limit</c>) for a limit out of range, 404 for an unknown tenant.
/// </summary>
internal static class AdminRecentRequestsApi
{
    public const int MaxLimit = 200;

    public static RouteGroupBuilder MapAdminRecentRequestsApi(this RouteGroupBuilder admin)
    {
        admin.MapGet("/tenants/{id}/requests", GetAsync);
        return admin;
    }

    private static async Task<IResult> GetAsync(string id, string? limit, HttpContext context, ITenantDirectory tenants, IUsageReader usage)
    {
        // limit as text: a non-number must get the envelope, not the framework's bare binding 400.
        var count = 50;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count is < 1 or > MaxLimit))
        {
            return await ErrorResponses.FailAsync(context, RelayError.InvalidValue("limit", $"expected an integer between 1 and {MaxLimit}, but got '{Shown(limit)}' instead."));
        }

        if (await tenants.GetAsync(id) is not { } tenant)
        {
            return await ErrorResponses.FailAsync(context, RelayError.NotFound($"tenant '{id}'"));
        }

        var recent = await usage.GetRecentAsync(id, tenant.Incarnation, count);
        var buffer = new ArrayBufferWriter<byte>(1024 + recent.Records.Sum(r => r.Length));
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (var record in recent.Records)
            {
                w.WriteRawValue(record);
            }

            w.WriteEndArray();
            w.WriteBoolean("has_more", recent.HasMore);
            w.WriteEndObject();
        }

        return Results.Bytes(buffer.WrittenSpan.ToArray(), "application/json");
    }

    private static string Shown(string value) => value.Length <= 32 ? value : value[..32] + "…";
}
