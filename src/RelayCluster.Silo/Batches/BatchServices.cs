using RelayCluster.Core.Configuration;

namespace RelayCluster.Silo.Batches;

internal static class BatchServices
{
    /// <summary>The batch workers every silo runs, and what they need (the store is chosen with the other grains).</summary>
    public static IServiceCollection AddBatchWorkers(this IServiceCollection services)
    {
        services.AddSingleton(sp => new PartFiles(sp.GetRequiredService<RelayOptions>().Batches.WorkPath));
        services.AddSingleton<BatchProgress>();
        services.AddSingleton<BatchItemRunner>();
        services.AddSingleton<ChunkRunner>();
        services.AddSingleton<BatchValidation>();
        services.AddSingleton<BatchFinalizer>();
        services.AddHostedService<BatchWorkers>();
        return services;
    }
}
