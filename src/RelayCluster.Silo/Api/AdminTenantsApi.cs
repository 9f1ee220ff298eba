using System.Text.Json.Nodes;
using RelayCluster.Core.Auth;
using RelayCluster.Core.Tenants;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Alerts;
using RelayCluster.Silo.Http;

namespace RelayCluster.Silo.Api;

/// <summary>
/// The admin write side: tenants, their limits and models, their keys, pause and resume. Every change goes
/// through the store (the directory or the tenant grain), so it holds on every silo at once: grains read
/// their limits in the same turn that admits, and directory changes clear every silo's key cache.
/// </summary>
internal static class AdminTenantsApi
{
    public static RouteGroupBuilder MapAdminTenantsApi(this RouteGroupBuilder admin)
    {
        admin.MapGet("/tenants", ListAsync);
        admin.MapPost("/tenants", CreateAsync);
        admin.MapGet("/tenants/{id}", GetAsync);
        admin.MapPatch("/tenants/{id}", UpdateAsync);
        admin.MapDelete("/tenants/{id}", DeleteAsync);
        admin.MapPost("/tenants/{id}/pause", (string id, HttpContext context, TenantAdmin ops) => ops.SetPausedAsync(context, id, true));
        admin.MapPost("/tenants/{id}/resume", (string id, HttpContext context, TenantAdmin ops) => ops.SetPausedAsync(context, id, false));
        admin.MapGet("/tenants/{id}/alerts", GetAlertsAsync);
        admin.MapPost("/tenants/{id}/keys", AddKeyAsync);
        admin.MapDelete("/tenants/{id}/keys/{keyId}", RevokeKeyAsync);
        admin.MapPost("/tenants/{id}/keys/{keyId}/rotate", RotateKeyAsync);
        return admin;
    }

    private static async Task<IResult> ListAsync(TenantAdmin ops)
    {
        var tenants = new JsonArray();
        foreach (var id in await ops.Directory.ListAsync())
        {
            if (await ops.ViewAsync(id, withKeys: false) is { } view)
            {
                tenants.Add(view);
            }
        }

        return Results.Json(new JsonObject { ["object"] = "list", ["data"] = tenants });
    }

    private static async Task<IResult> CreateAsync(HttpContext context, TenantAdmin ops, TenantPurge purge)
    {
        var (request, error) = TenantAdminRequest.Parse(await JsonBody.ReadObjectAsync(context), requireId: true);
        if (request is null)
        {
            return await ErrorResponses.FailAsync(context, error!);
        }

        var now = ops.Now;
        var (key, stored) = ApiKeys.Generate(now);
        // A new incarnation every time: a tenant created with a deleted tenant's id is a different tenant (see TenantPurge).
        var entry = new TenantEntry(request.Id!, request.Models ?? ["*"], now) { Incarnation = TenantIncarnation.New() };
        if (!await TenantCreation.CreateAsync(ops.Directory, ops.Grains, entry, [stored], TenantLimits.Unlimited.With(request.Limits), purge))
        {
            return await ErrorResponses.FailAsync(context, new RelayError(409, new OpenAiError(
                $"Tenant '{request.Id}' already exists.", "invalid_request_error", "id", "tenant_exists"), ShouldRetry: false));
        }

        // An id that belonged to a deleted tenant starts afresh: none of its files, batches, streams or spend.
        var view = (await ops.ViewAsync(request.Id!, withKeys: true))!;
        view["key"] = KeyCreated(key, stored.Entry); // the only time the key itself is shown
        return Results.Json(view, statusCode: 201);
    }

    private static async Task<IResult> GetAsync(string id, HttpContext context, TenantAdmin ops) =>
        await ops.ViewAsync(id, withKeys: true) is { } view ? Results.Json(view) : await ops.NotFoundAsync(context, id);

    private static async Task<IResult> GetAlertsAsync(string id, HttpContext context, TenantAdmin ops) =>
        await ops.Directory.GetAsync(id) is null ? await ops.NotFoundAsync(context, id) : Results.Json(await ops.AlertsAsync(id));

    private static async Task<IResult> UpdateAsync(string id, HttpContext context, TenantAdmin ops)
    {
        if (await ops.Directory.GetAsync(id) is null)
        {
            return await ops.NotFoundAsync(context, id);
        }

        var (request, error) = TenantAdminRequest.Parse(await JsonBody.ReadObjectAsync(context), requireId: false);
        if (request is null)
        {
            return await ErrorResponses.FailAsync(context, error!);
        }

        await ops.Grains.GetTenant(id).UpdateLimitsAsync(request.Limits);
        if (request.Models is { } models)
        {
            await ops.Directory.SetModelsAsync(id, models);
        }

        return Results.Json(await ops.ViewAsync(id, withKeys: true));
    }

    private static async Task<IResult> DeleteAsync(string id, HttpContext context, TenantAdmin ops, TenantPurge purge)
    {
        if (!await ops.Directory.DeleteAsync(id))
        {
            return await ops.NotFoundAsync(context, id);
        }

        // Keys stop working first (the directory write), then the data goes; a re-create purges again.
        await purge.PurgeAsync(id, CancellationToken.None);

        return Results.Json(new JsonObject { ["id"] = id, ["object"] = "tenant", ["deleted"] = true });
    }

    private static async Task<IResult> AddKeyAsync(string id, HttpContext context, TenantAdmin ops)
    {
        var (key, stored) = ApiKeys.Generate(ops.Now);
        return await ops.Directory.AddKeyAsync(id, stored)
            ? Results.Json(KeyCreated(key, stored.Entry), statusCode: 201)
            : await ops.NotFoundAsync(context, id);
    }

    private static async Task<IResult> RevokeKeyAsync(string id, string keyId, HttpContext context, TenantAdmin ops) =>
        await ops.Directory.RevokeKeyAsync(id, keyId)
            ? Results.Json(new JsonObject { ["id"] = keyId, ["object"] = "tenant.key", ["deleted"] = true })
            : await ErrorResponses.FailAsync(context, RelayError.NotFound($"key '{keyId}' of tenant '{id}'"));

    /// <summary>A new key replaces the old one at once: the old key stops working on every silo.</summary>
    private static async Task<IResult> RotateKeyAsync(string id, string keyId, HttpContext context, TenantAdmin ops)
    {
        if (!(await ops.Directory.ListKeysAsync(id)).Any(k => k.Id == keyId))
        {
            return await ErrorResponses.FailAsync(context, RelayError.NotFound($"key '{keyId}' of tenant '{id}'"));
        }

        var (key, stored) = ApiKeys.Generate(ops.Now);
        await ops.Directory.AddKeyAsync(id, stored);
        await ops.Directory.RevokeKeyAsync(id, keyId);
        return Results.Json(KeyCreated(key, stored.Entry), statusCode: 201);
    }

    private static JsonObject KeyCreated(string key, ApiKeyEntry entry) => new()
    {
        ["id"] = entry.Id, ["object"] = "tenant.key", ["key"] = key, ["prefix"] = entry.Prefix, ["created_at"] = entry.CreatedAt,
    };
}

/// <summary>What the admin handlers share: the stores, the clock, and the tenant view.</summary>
internal sealed class TenantAdmin(ITenantDirectory directory, ITenantGrainFactory grains, TimeProvider time, Core.Configuration.AlertOptions alerts)
{
    public ITenantDirectory Directory => directory;

    public ITenantGrainFactory Grains => grains;

    public long Now => time.GetUtcNow().ToUnixTimeSeconds();

    public async Task<JsonObject?> ViewAsync(string id, bool withKeys)
    {
        if (await directory.GetAsync(id) is not { } tenant)
        {
            return null;
        }

        var snapshot = await grains.GetTenant(id).GetQuotaAsync();
        var view = new JsonObject
        {
            ["id"] = id,
            ["object"] = "tenant",
            ["created_at"] = tenant.CreatedAt,
            ["models"] = new JsonArray([.. tenant.Models.Select(m => (JsonNode)m)]),
            ["paused"] = snapshot.Paused,
            ["quota"] = System.Text.Json.JsonSerializer.SerializeToNode(QuotaView.From(snapshot), SiloJsonContext.Default.QuotaView),
            ["alerts"] = await AlertsAsync(id),
        };
        if (withKeys)
        {
            view["keys"] = new JsonArray([.. (await directory.ListKeysAsync(id)).Select(k => (JsonNode)new JsonObject
            {
                ["id"] = k.Id, ["prefix"] = k.Prefix, ["created_at"] = k.CreatedAt,
            })]);
        }

        return view;
    }

    /// <summary>The tenant's thresholds, pause cause, crossings and deliveries (see <see cref="AlertsView"/>).</summary>
    public async Task<JsonObject> AlertsAsync(string id) => AlertsView.From(id, await grains.GetTenant(id).GetAlertsAsync(), alerts);

    /// <summary>Pause (an admin's) or resume (lifting an admin's pause and a pause threshold's alike).</summary>
    public async Task<IResult> SetPausedAsync(HttpContext context, string id, bool paused)
    {
        if (await directory.GetAsync(id) is null)
        {
            return await NotFoundAsync(context, id);
        }

        await grains.GetTenant(id).SetPausedAsync(paused);
        return Results.Json(await ViewAsync(id, withKeys: false));
    }

    public Task<IResult> NotFoundAsync(HttpContext context, string id) => ErrorResponses.FailAsync(context, RelayError.NotFound($"tenant '{id}'"));
}
