using RelayCluster.Core.Batches;

namespace RelayCluster.Silo.Api;

/// <summary>
/// A k-way merge of the tenants' batch lists (each oldest first, as their indexes keep them) into one list, newest first:
/// by <c>created_at</c> descending, then tenant id ascending, then the tenant's own order descending. Batches are read
/// lazily (one read per row, plus each tenant's head), each at most once per merge; an id whose batch is gone (purged
/// meanwhile) is skipped.
/// </summary>
internal sealed class BatchMerge(IBatches batches, IReadOnlyList<(string Tenant, string[] Ids)> lists)
{
    private readonly int[] _next = [.. lists.Select(l => l.Ids.Length - 1)]; // each tenant's next position, walking backwards
    private readonly Dictionary<(int List, int Position), BatchState?> _read = [];

    /// <summary>Places every tenant after the batch <paramref name="after"/>; false when no tenant has that id.</summary>
    public async Task<bool> StartAfterAsync(string after)
    {
        var owner = -1;
        var at = -1;
        for (var l = 0; l < lists.Count && owner < 0; l++)
        {
            at = Array.LastIndexOf(lists[l].Ids, after);
            owner = at >= 0 ? l : -1;
        }

        if (owner < 0 || await ReadAsync(owner, at) is not { } cursor)
        {
            return false;
        }

        for (var l = 0; l < lists.Count; l++)
        {
            _next[l] = l == owner ? at - 1 : await LastOlderAsync(l, cursor.CreatedAt, string.CompareOrdinal(lists[l].Tenant, lists[owner].Tenant) > 0);
        }

        return true;
    }

    /// <summary>The next batch in merge order, or null when every list is done.</summary>
    public async Task<BatchState?> NextAsync()
    {
        while (true)
        {
            var best = -1;
            BatchState? bestBatch = null;
            for (var l = 0; l < lists.Count; l++)
            {
                while (_next[l] >= 0 && await ReadAsync(l, _next[l]) is null)
                {
                    _next[l]--; // purged meanwhile
                }

                if (_next[l] < 0)
                {
                    continue;
                }

                var batch = (await ReadAsync(l, _next[l]))!;
                if (bestBatch is null || batch.CreatedAt > bestBatch.CreatedAt
                    || (batch.CreatedAt == bestBatch.CreatedAt && string.CompareOrdinal(lists[l].Tenant, lists[best].Tenant) < 0))
                {
                    (best, bestBatch) = (l, batch);
                }
            }

            if (best < 0)
            {
                return null;
            }

            _next[best]--;
            return bestBatch;
        }
    }

    /// <summary>
    /// The last position of list <paramref name="l"/> that comes after the cursor: created before it, or at the same second
    /// when the tenant sorts after the cursor's (<paramref name="sameSecondFollows"/>). Binary search over creation order.
    /// </summary>
    private async Task<int> LastOlderAsync(int l, long createdAt, bool sameSecondFollows)
    {
        int low = 0, high = lists[l].Ids.Length - 1, found = -1;
        while (low <= high)
        {
            var mid = (low + high) / 2;
            var batch = await ReadAsync(l, mid);
            var follows = batch is null || batch.CreatedAt < createdAt || (batch.CreatedAt == createdAt && sameSecondFollows);
            if (follows)
            {
                found = mid;
                low = mid + 1;
            }
            else
            {
                high = mid - 1;
            }
        }

        return found;
    }

    private async Task<BatchState?> ReadAsync(int l, int position)
    {
        if (!_read.TryGetValue((l, position), out var batch))
        {
            _read[(l, position)] = batch = await batches.GetAsync(lists[l].Tenant, lists[l].Ids[position]);
        }

        return batch;
    }
}
