using RelayCluster.Core.Auth;

namespace RelayCluster.Silo.Batches;

/// <summary>
/// A deleted tenant's batch work files (the part files of its running batches) go with its batches. A worker still
/// writing one keeps an unlinked file; its batch is gone, so nothing ever reads it.
/// </summary>
internal sealed class PartFilesPurge(PartFiles parts) : ITenantDataPurge
{
    public Task PurgeAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        var tenantDirectory = Path.GetDirectoryName(parts.BatchDirectory(tenantId, "batch"))!;
        try
        {
            if (Directory.Exists(tenantDirectory))
            {
                Directory.Delete(tenantDirectory, recursive: true);
            }
        }
        catch (IOException)
        {
            // A worker of the purged batch made a file meanwhile; nothing reads it, and the next purge (a re-create) retries.
        }

        return Task.CompletedTask;
    }
}
