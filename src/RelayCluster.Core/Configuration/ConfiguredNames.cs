using RelayCluster.Core.Auth;
using RelayCluster.Core.Routing;

namespace RelayCluster.Core.Configuration;

/// <summary>
/// Configured names must have the formats the API checks on its paths (<see cref="TenantIds"/>,
/// <see cref="ModelNames"/>, and no route named like a fixed path under /admin/routes), or an admin could never address
/// them; and the per-tenant file storage limits must be positive.
/// </summary>
internal static class ConfiguredNames
{
    public static IEnumerable<string> Problems(RelayOptions options)
    {
        foreach (var (id, tenant) in options.Tenants)
        {
            if (!TenantIds.IsValid(id))
            {
                yield return $"Relay:Tenants:{id}: a tenant id must be 1 to 64 letters, digits, '-' or '_'.";
            }

            if (tenant.MaxFileBytes < 1)
            {
                yield return $"Relay:Tenants:{id}:MaxFileBytes must be at least 1.";
            }
        }

        foreach (var name in options.Models.Keys.Concat(options.Routes.Keys).Where(n => !ModelNames.IsValid(n)))
        {
            yield return $"Relay:Models or Relay:Routes: '{name}' is not a valid model name (1 to {ModelNames.MaxLength} letters, digits and - . _ : / @ +).";
        }

        foreach (var name in options.Routes.Keys.Where(ModelNames.IsReservedRoute))
        {
            yield return $"Relay:Routes:{name}: '{ModelNames.ReservedRouteName}' is no route name (GET /admin/routes/{ModelNames.ReservedRouteName} is the route statistics).";
        }

        if (options.Files.MaxBytesPerTenant < 1)
        {
            yield return "Relay:Files:MaxBytesPerTenant must be at least 1.";
        }
    }
}
