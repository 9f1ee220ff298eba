using RelayCluster.Silo.Hosting;

namespace RelayCluster.Silo.Batches;

/// <summary>
/// A tenant's batch ids, oldest first (grain state <c>batches</c>): ids are appended at creation, so the order is the
/// creation order, and a page walks it backwards from the cursor. Only ids are kept (about 40 bytes a batch); the
/// batches themselves are their grains'.
/// </summary>
internal sealed class TenantBatchesGrain(
    [PersistentState("batches", OrleansHosting.GrainStorage)] IPersistentState<TenantBatchesRecord> state) : Grain, ITenantBatchesActor
{
    public async Task AddAsync(string batchId)
    {
        if (state.State.Ids.Count > 0 && state.State.Ids[^1] == batchId)
        {
            return; // a retried add
        }

        state.State.Ids.Add(batchId);
        await state.WriteStateAsync();
    }

    public Task<(string[] Ids, bool HasMore)> PageAsync(string? after, int limit)
    {
        var ids = state.State.Ids;
        var start = ids.Count - 1;
        if (after is not null)
        {
            var at = ids.LastIndexOf(after);
            start = at < 0 ? -1 : at - 1; // an unknown cursor is an empty page, as OpenAI answers it
        }

        var page = new List<string>(Math.Min(limit, Math.Max(0, start + 1)));
        for (var i = start; i >= 0 && page.Count < limit; i--)
        {
            page.Add(ids[i]);
        }

        var last = start - page.Count;
        return Task.FromResult<(string[], bool)>(([.. page], last >= 0));
    }

    public Task<string[]> AllAsync() => Task.FromResult<string[]>([.. state.State.Ids]);

    public async Task RemoveAsync(string[] batchIds)
    {
        var gone = batchIds.ToHashSet(StringComparer.Ordinal);
        state.State.Ids.RemoveAll(gone.Contains);
        if (state.State.Ids.Count == 0)
        {
            await state.ClearStateAsync();
            this.DeactivateOnIdle();
        }
        else
        {
            await state.WriteStateAsync();
        }
    }
}

[GenerateSerializer, Alias("relay.tenant-batches-record")]
public sealed class TenantBatchesRecord
{
    [Id(0)] public List<string> Ids { get; set; } = [];
}
