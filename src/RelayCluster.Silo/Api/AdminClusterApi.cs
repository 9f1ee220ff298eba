using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using RelayCluster.Silo.Hosting;

namespace RelayCluster.Silo.Api;

/// <summary>
/// GET /admin/cluster: the Orleans silos of this cluster as membership sees them (the admin console's view); GET
/// /admin/tenants/{id}/grain: which silo runs a tenant's grain (activating it if none does).
/// </summary>
public static class AdminClusterApi
{
    public static RouteGroupBuilder MapAdminClusterApi(this RouteGroupBuilder admin)
    {
        admin.MapGet("/cluster", GetClusterAsync);
        admin.MapGet("/tenants/{id}/grain", GetTenantGrainAsync);
        return admin;
    }

    private static async Task<Results<Ok<GrainView>, EmptyHttpResult>> GetTenantGrainAsync(
        string id, HttpContext context, Core.Auth.ITenantDirectory tenants, Tenants.OrleansTenantGrainFactory grains)
    {
        if (await tenants.GetAsync(id) is null)
        {
            await Http.ErrorResponses.WriteAsync(context, Core.Wire.RelayError.NotFound($"tenant '{id}'"));
            return TypedResults.Empty;
        }

        var address = await grains.HostOfAsync(id);
        var at = address.IndexOf('@', StringComparison.Ordinal);
        return TypedResults.Ok(new GrainView("tenant.grain", id, address, at < 0 ? address : address[..at]));
    }

    private static async Task<Ok<ClusterView>> GetClusterAsync(IGrainFactory grains, ILocalSiloDetails local, IOptions<OrleansOptions> options)
    {
        // Dead and left silos stay in the table for a while: they are listed, with their status, so an operator sees them go.
        var hosts = await grains.GetGrain<IManagementGrain>(0).GetDetailedHosts(onlyActive: false);
        var silos = hosts
            .OrderBy(h => h.StartTime)
            .Select(h => new SiloView(
                h.SiloAddress.ToParsableString(),
                h.SiloAddress.Endpoint.ToString(),
                h.SiloName,
                h.HostName,
                h.Status.ToString().ToLowerInvariant(),
                ToUnixSeconds(h.StartTime),
                ToUnixSeconds(h.IAmAliveTime),
                h.SiloAddress.Equals(local.SiloAddress)))
            .ToList();
        return TypedResults.Ok(new ClusterView("cluster", options.Value.ServiceId, local.ClusterId, silos));
    }

    private static long ToUnixSeconds(DateTime utc) =>
        new DateTimeOffset(DateTime.SpecifyKind(utc, DateTimeKind.Utc)).ToUnixTimeSeconds();
}

public sealed record ClusterView(
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("service_id")] string ServiceId,
    [property: JsonPropertyName("cluster_id")] string ClusterId,
    [property: JsonPropertyName("silos")] IReadOnlyList<SiloView> Silos);

/// <summary>Where a grain runs: its silo's address (<c>ip:port@generation</c>) and endpoint (<c>ip:port</c>, the silo port).</summary>
public sealed record GrainView(
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("tenant")] string Tenant,
    [property: JsonPropertyName("address")] string Address,
    [property: JsonPropertyName("silo")] string Silo);

public sealed record SiloView(
    [property: JsonPropertyName("address")] string Address,
    [property: JsonPropertyName("endpoint")] string Endpoint,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("host_name")] string HostName,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("started_at")] long StartedAt,
    [property: JsonPropertyName("alive_at")] long AliveAt,
    [property: JsonPropertyName("this_silo")] bool ThisSilo);
