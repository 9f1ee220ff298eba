using RelayCluster.Core.Auth;

namespace RelayCluster.Core.Files;

/// <summary>
/// A deleted tenant's files go with it: its directory is renamed away in one atomic step (so no silo can read or
/// list any of it after that instant), then removed. An upload staging in the old directory at that moment fails at
/// its commit (its staging file moved away); leftovers of a purge a crash interrupted are removed by the next purge.
/// </summary>
public sealed partial class DirectoryFileStore : ITenantDataPurge
{
    private const string PurgedPrefix = ".purged-";

    public Task PurgeAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        var name = TenantDirectoryName.Encode(tenantId);
        var directory = Path.Combine(_root, name);
        if (Directory.Exists(directory))
        {
            Directory.Move(directory, Path.Combine(_root, $"{PurgedPrefix}{name}.{Guid.NewGuid():N}"));
        }

        if (Directory.Exists(_root))
        {
            foreach (var purged in Directory.EnumerateDirectories(_root, $"{PurgedPrefix}{name}.*"))
            {
                Directory.Delete(purged, recursive: true);
            }
        }

        return Task.CompletedTask;
    }
}
