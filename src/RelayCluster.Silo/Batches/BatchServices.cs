using RelayCluster.Core.Batches;
using RelayCluster.Core.Configuration;

namespace RelayCluster.Silo.Batches;

internal static class BatchServices
{
    /// <summary>What the batch grains need on every silo, and the Batch API's view of them.</summary>
    public static IServiceCollection AddBatchGrains(this IServiceCollection services)
    {
        services.AddSingleton(sp => new PartFiles(sp.GetRequiredService<RelayOptions>().Batches.WorkPath));
        services.AddSingleton<BatchProgress>();
        Console.Live.LiveServices.AddLiveFeed(services); // the grains publish to the admin hub's feed while a console watches
        services.AddSingleton<BatchItemRunner>();
        services.AddSingleton<IBatchItemExecutor>(sp => sp.GetRequiredService<BatchItemRunner>());
        services.AddSingleton<BatchCapacity>();
        Telemetry.RelayMetrics.AddTo(services); // the chunk grain counts the items it ends
        services.AddSingleton<BatchValidation>();
        services.AddSingleton<BatchFinalizer>();
        services.AddSingleton<BatchJobs>();
        services.AddSingleton<OrleansBatches>();
        services.AddSingleton<IBatches>(sp => sp.GetRequiredService<OrleansBatches>());
        return services;
    }
}
