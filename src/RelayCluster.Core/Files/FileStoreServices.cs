using Microsoft.Extensions.DependencyInjection;
using RelayCluster.Core.Configuration;

namespace RelayCluster.Core.Files;

public static class FileStoreServices
{
    /// <summary>The directory file store (as <see cref="IFileStore"/> and <see cref="IFileStaging"/>) and its sweeper.</summary>
    public static IServiceCollection AddFileStore(this IServiceCollection services)
    {
        services.AddSingleton(sp => sp.GetRequiredService<RelayOptions>().Files);
        services.AddSingleton(sp =>
        {
            var relay = sp.GetRequiredService<RelayOptions>();
            return new DirectoryFileStore(relay.Files, sp.GetRequiredService<TimeProvider>())
            {
                // A configured tenant's own limit; every other tenant (admin-created ones too) has the default.
                TenantLimit = id => relay.Tenants.TryGetValue(id, out var tenant) && tenant.MaxFileBytes is { } own ? own : relay.Files.MaxBytesPerTenant,
            };
        });
        services.AddSingleton<IFileStore>(sp => sp.GetRequiredService<DirectoryFileStore>());
        services.AddSingleton<IFileStaging>(sp => sp.GetRequiredService<DirectoryFileStore>());
        services.AddHostedService<FileSweeper>();
        return services;
    }
}
