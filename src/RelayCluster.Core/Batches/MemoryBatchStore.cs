using RelayCluster.Core.Tenants;

namespace RelayCluster.Core.Batches;

/// <summary>
/// The batch grains of the embedded default: in-process state, one lock per store (turns are short), and an
/// in-process queue per tenant, visited round-robin. There is no other silo to take a task over, so a lease here
/// never expires; a worker that stops hands its task back with <see cref="ReleaseAsync"/>, and one whose task
/// failed with <see cref="RetryLaterAsync"/>, which puts it aside until its retry is due.
/// </summary>
public sealed partial class MemoryBatchStore(ITenantGrainFactory tenants, BatchWorkSignal signal, TimeProvider? time = null) : IBatchStore
{
    private readonly Lock _turn = new();
    private readonly Dictionary<(string Tenant, string Batch), Entry> _batches = [];
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private long _leases;

    public ValueTask CreateAsync(BatchCreation creation)
    {
        lock (_turn)
        {
            _batches[(creation.TenantId, creation.Id)] = new Entry(new BatchState
            {
                Id = creation.Id, TenantId = creation.TenantId, Endpoint = creation.Endpoint, InputFileId = creation.InputFileId,
                MetadataJson = creation.MetadataJson, Status = BatchStatus.Validating, CreatedAt = creation.CreatedAt, ExpiresAt = creation.ExpiresAt,
            });
            Enqueue(creation.TenantId, creation.Id, BatchTaskKind.Validate, -1);
        }

        signal.Notify();
        return ValueTask.CompletedTask;
    }

    public ValueTask<BatchState?> GetAsync(string tenantId, string batchId)
    {
        lock (_turn)
        {
            return ValueTask.FromResult(_batches.GetValueOrDefault((tenantId, batchId))?.State);
        }
    }

    public ValueTask<BatchPage> ListAsync(string tenantId, string? after, int limit)
    {
        lock (_turn)
        {
            var newestFirst = _batches.Values.Select(e => e.State).Where(b => b.TenantId == tenantId)
                .OrderByDescending(b => b.CreatedAt).ThenByDescending(b => b.Id, StringComparer.Ordinal).ToList();
            var start = after is null ? 0 : newestFirst.FindIndex(b => b.Id == after) + 1;
            if (after is not null && start == 0)
            {
                return ValueTask.FromResult(new BatchPage([], false)); // an unknown cursor: nothing after it
            }

            var page = newestFirst.Skip(start).Take(limit).ToList();
            return ValueTask.FromResult(new BatchPage(page, start + page.Count < newestFirst.Count));
        }
    }

    public ValueTask<BatchState?> CancelAsync(string tenantId, string batchId, long now)
    {
        lock (_turn)
        {
            if (!_batches.TryGetValue((tenantId, batchId), out var entry))
            {
                return ValueTask.FromResult<BatchState?>(null);
            }

            if (BatchOutcome.MayCancel(entry.State.Status))
            {
                entry.State = entry.State with { Status = BatchStatus.Cancelling, CancellingAt = now };
            }

            if (entry.State.Status == BatchStatus.Cancelling && entry.LiveTasks == 0)
            {
                // Nothing is left to end its items or finalize it (its tasks were given up on or lost): it ends here.
                entry.State = entry.State with { Status = BatchStatus.Cancelled, CancelledAt = now };
            }

            return ValueTask.FromResult<BatchState?>(entry.State);
        }
    }

    public ValueTask<bool> FailValidationAsync(string tenantId, string batchId, string errorsJson, long now)
    {
        lock (_turn)
        {
            if (!_batches.TryGetValue((tenantId, batchId), out var entry) || entry.State.InProgressAt is not null || BatchStatus.IsFinal(entry.State.Status))
            {
                return ValueTask.FromResult(false);
            }

            // A cancel that came first wins (a cancelling batch always ends cancelled); the errors are kept to say why nothing ran.
            entry.State = entry.State.Status == BatchStatus.Cancelling
                ? entry.State with { Status = BatchStatus.Cancelled, CancelledAt = now, ErrorsJson = errorsJson }
                : entry.State with { Status = BatchStatus.Failed, FailedAt = now, ErrorsJson = errorsJson };
            return ValueTask.FromResult(true);
        }
    }

    public ValueTask<bool> StartAsync(string tenantId, string batchId, string? model, IReadOnlyList<BatchChunk> chunks, long total, long now)
    {
        lock (_turn)
        {
            if (!_batches.TryGetValue((tenantId, batchId), out var entry) || entry.State.Status is not (BatchStatus.Validating or BatchStatus.Cancelling)
                || entry.State.InProgressAt is not null)
            {
                return ValueTask.FromResult(false);
            }

            // A batch cancelled while validating still gets its chunks: their items end as cancelled.
            var status = entry.State.Status == BatchStatus.Cancelling ? BatchStatus.Cancelling : BatchStatus.InProgress;
            entry.State = entry.State with { Status = status, InProgressAt = now, Model = model, Total = total, Chunks = chunks.Count };
            entry.Chunks = [.. chunks];
            foreach (var chunk in chunks)
            {
                Enqueue(tenantId, batchId, BatchTaskKind.RunChunk, chunk.Index);
            }
        }

        signal.Notify();
        return ValueTask.FromResult(true);
    }

    public ValueTask<BatchChunk?> GetChunkAsync(string tenantId, string batchId, int chunk)
    {
        lock (_turn)
        {
            return ValueTask.FromResult<BatchChunk?>(_batches.TryGetValue((tenantId, batchId), out var entry) && chunk >= 0 && chunk < entry.Chunks.Length
                ? entry.Chunks[chunk]
                : null);
        }
    }

    public ValueTask<IReadOnlyDictionary<int, (ItemOutcome Outcome, string Owner)>> EndedItemsAsync(string tenantId, string batchId, int firstItem, int count)
    {
        lock (_turn)
        {
            var ended = new Dictionary<int, (ItemOutcome, string)>();
            if (_batches.TryGetValue((tenantId, batchId), out var entry))
            {
                for (var item = firstItem; item < firstItem + count; item++)
                {
                    if (entry.Ended.TryGetValue(item, out var end))
                    {
                        ended[item] = end;
                    }
                }
            }

            return ValueTask.FromResult<IReadOnlyDictionary<int, (ItemOutcome Outcome, string Owner)>>(ended);
        }
    }

    public async ValueTask<ItemRecorded> EndItemAsync(string tenantId, string batchId, ItemEnd end, Settlement? settlement, long now)
    {
        ItemRecorded recorded;
        var finalize = false;
        var retried = false;
        if (IsGone(tenantId, batchId))
        {
            return await EndItemOfPurgedAsync(tenantId, settlement);
        }

        lock (_turn)
        {
            var entry = _batches[(tenantId, batchId)];
            var first = entry.Ended.TryAdd(end.Item, (end.Outcome, end.Owner));
            if (first && settlement is { } kept)
            {
                entry.Unbooked[end.Item] = kept.RequestId;
            }

            // A second end with the request of a first end whose settle failed is that end retried: it books, never releases.
            retried = !first && settlement is { } again && entry.Unbooked.GetValueOrDefault(end.Item) == again.RequestId;
            if (first && !BatchStatus.IsFinal(entry.State.Status))
            {
                var state = entry.State;
                state = end.Outcome == ItemOutcome.Succeeded ? state with { Completed = state.Completed + 1 } : state with { Failed = state.Failed + 1 };
                state = state with
                {
                    InputTokens = state.InputTokens + end.InputTokens, OutputTokens = state.OutputTokens + end.OutputTokens,
                    ExpiredItems = state.ExpiredItems + (end.Expired ? 1 : 0),
                };
                if (state.AllItemsEnded && state.FinalizingAt is null)
                {
                    state = BatchOutcome.AllEnded(state, now);
                    Enqueue(tenantId, batchId, BatchTaskKind.Finalize, -1);
                    finalize = true;
                }

                entry.State = state;
            }

            // A batch that ended early (its task given up on) counts nothing more, but its items' calls are still booked.
            recorded = new ItemRecorded(first, entry.State.Status, entry.State.Completed, entry.State.Failed, entry.State.Total);
        }

        // One process: nothing can die between the record and the booking, so they need not share a turn.
        if (settlement is { } booked)
        {
            var grain = tenants.GetTenant(tenantId);
            if (recorded.First || retried)
            {
                await grain.SettleAsync(booked);
                lock (_turn)
                {
                    if (_batches.TryGetValue((tenantId, batchId), out var entry))
                    {
                        entry.Unbooked.Remove(end.Item);
                    }
                }
            }
            else
            {
                await grain.ReleaseAsync(booked.RequestId);
            }
        }

        if (finalize)
        {
            signal.Notify();
        }

        return recorded;
    }

    public ValueTask<bool> FinishAsync(string tenantId, string batchId, string? outputFileId, string? errorFileId, long now)
    {
        lock (_turn)
        {
            if (!_batches.TryGetValue((tenantId, batchId), out var entry) || !BatchOutcome.AwaitsFinish(entry.State))
            {
                return ValueTask.FromResult(false);
            }

            entry.State = BatchOutcome.Finish(entry.State, outputFileId, errorFileId, now);

            // Only a running batch needs its per-item and per-chunk records; a long-lived process keeps just the state.
            entry.Chunks = [];
            entry.Ended.Clear();
            entry.Ended.TrimExcess();
            return ValueTask.FromResult(true);
        }
    }

    private sealed class Entry(BatchState state)
    {
        public BatchState State { get; set; } = state;

        public BatchChunk[] Chunks { get; set; } = [];

        public Dictionary<int, (ItemOutcome Outcome, string Owner)> Ended { get; } = [];

        /// <summary>The request of each first end whose settle has not answered yet: a retry of that end books it.</summary>
        public Dictionary<int, string> Unbooked { get; } = [];

        /// <summary>Tasks of this batch queued, waiting for a retry or leased: none left means nothing will end it.</summary>
        public int LiveTasks { get; set; }
    }
}
