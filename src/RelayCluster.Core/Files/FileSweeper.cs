using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RelayCluster.Core.Configuration;

namespace RelayCluster.Core.Files;

/// <summary>
/// Deletes expired files at start and then every <c>Relay:Files:SweepIntervalSeconds</c>. Expired files are
/// invisible the moment they expire; the sweep only frees their space, so its period is not a correctness bound.
/// </summary>
internal sealed partial class FileSweeper(DirectoryFileStore store, FilesOptions options, TimeProvider time, ILogger<FileSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.SweepIntervalSeconds), time);
        do
        {
            try
            {
                var deleted = await store.SweepAsync(stoppingToken);
                if (deleted > 0)
                {
                    Log.Swept(logger, deleted, store.Root);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A volume hiccup must not stop the silo: the next sweep tries again, and expired files stay
                // invisible meanwhile.
                Log.SweepFailed(logger, store.Root, ex);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Deleted {Count} expired files from {Root}")]
        public static partial void Swept(ILogger logger, int count, string root);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Sweeping expired files from {Root} failed")]
        public static partial void SweepFailed(ILogger logger, string root, Exception exception);
    }
}
