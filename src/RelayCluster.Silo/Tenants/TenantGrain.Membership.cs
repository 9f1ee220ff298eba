using RelayCluster.Core.Tenants;

namespace RelayCluster.Silo.Tenants;

/// <summary>
/// Reclaiming the reservations of dead silos. A request holds its reservation from the silo that admitted it; when the
/// cluster declares that silo dead, the request died with it, so its hold and slot are freed at once instead of at the
/// reservation's deadline (which stays as the backstop, for a silo that is alive but stopped renewing). A late settle of
/// a reclaimed reservation is still booked, once.
/// </summary>
internal sealed partial class TenantGrain
{
    private async Task WatchMembershipAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(cancellationToken))
            {
                if (_failed is null)
                {
                    ReclaimDeadSilos(snapshot);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // deactivating
        }
        catch (ObjectDisposedException)
        {
            // deactivated while the enumeration was being cancelled
        }
    }

    private void ReclaimDeadSilos(ClusterMembershipSnapshot snapshot)
    {
        var dead = snapshot.Members.Values.Where(m => m.Status == SiloStatus.Dead).Select(m => m.SiloAddress.ToParsableString())
            .ToHashSet(StringComparer.Ordinal);
        if (dead.Count > 0 && _book.ReclaimSilos(dead, NowMs()) > 0)
        {
            _ = CommitUnawaitedAsync();
        }
    }

    /// <summary>Nobody waits on this commit; a failure fails the activation like any other, and is logged there.</summary>
    private async Task CommitUnawaitedAsync()
    {
        try
        {
            await DurableAsync();
        }
        catch (StoreUnavailableException)
        {
        }
    }
}
