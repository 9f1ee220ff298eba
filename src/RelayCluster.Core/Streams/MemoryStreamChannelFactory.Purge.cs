using RelayCluster.Core.Auth;

namespace RelayCluster.Core.Streams;

/// <summary>
/// A deleted tenant's streams (token streams and batch progress) are forgotten: their ids find no owner, so a tenant
/// created later with the same id gets 404 for them. A writer still appending keeps a channel nobody can reach.
/// </summary>
public sealed partial class MemoryStreamChannelFactory : ITenantDataPurge
{
    public async Task PurgeAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        foreach (var (id, channel) in _channels)
        {
            if (await channel.OwnerAsync() == tenantId)
            {
                _channels.TryRemove(id, out _);
            }
        }
    }
}
