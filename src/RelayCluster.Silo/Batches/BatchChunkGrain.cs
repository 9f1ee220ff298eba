using Orleans.Concurrency;
using RelayCluster.Core.Auth;
using RelayCluster.Core.Batches;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Files;
using RelayCluster.Core.Routing;
using RelayCluster.Core.Tenants;
using RelayCluster.Silo.Hosting;

namespace RelayCluster.Silo.Batches;

/// <summary>
/// A chunk of a batch as a grain: it reads its lines from the input file, runs each item that has not ended when one of
/// this silo's batch slots is free (<see cref="BatchCapacity"/>), and is the single arbiter of its items' ends:
/// <code>
///  item ends ─► its line appended to this activation's part file ─► end committed (grain state, group commit)
///            ─► usage settled on the tenant grain (idempotent by request id) ─► marked booked (lazily)
///  all ended and booked ─► result files compacted from the parts ─► batch told ─► done
/// </code>
/// A revived chunk (its silo died) loads the committed ends, books any end still unbooked (the outbox), and runs only
/// the rest, so every item ends once and is booked once. A stale activation is fenced by the state's ETag: its next
/// commit fails, it stops, and what it did not commit runs again. A stop closes the gate at once (no item starts
/// afterwards); unrun items then end with the stop's reason, without an upstream call.
/// A batch's chunks are spread round-robin over the silos (<see cref="ChunkSpreadPlacement"/>).
/// </summary>
[Reentrant]
[ChunkSpreadPlacement]
internal sealed partial class BatchChunkGrain(
    [PersistentState("chunk", OrleansHosting.GrainStorage)] IPersistentState<ChunkRecord> state,
    IBatchItemExecutor executor, BatchCapacity capacity, PartFiles parts, IFileStore files, ITenantDirectory directory,
    ITenantGrainFactory tenants, RelayOptions options, TimeProvider time, Telemetry.RelayMetrics metrics, ILogger<BatchChunkGrain> logger)
    : Grain, IBatchChunkActor
{
    private static readonly TimeSpan ReportInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>How long a deactivating chunk (its silo shuts down) lets its running items finish before it cuts them off.</summary>
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long a commit waits for more ends before it writes: at 64 items in flight a silo ends ~1,400 items a second, and
    /// sharing a write among the ends of 10 ms cuts the writes (Redis work per item) several times, for 10 ms more per
    /// item's end, which a batch does not notice.
    /// </summary>
    private static readonly TimeSpan CommitLinger = TimeSpan.FromMilliseconds(10);

    /// <summary>Names this activation's part file: a revived chunk never appends to a predecessor's.</summary>
    private readonly string _owner = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6));
    private readonly CancellationTokenSource _stopping = new();
    private ChunkWork? _work;
    private string? _pendingStop; // a stop that came before this activation's run had its gate (BatchRun)
    private BatchRun? _run;
    private Task? _running;
    private bool _forgotten;

    // Group commit: every change bumps _version; a commit writes whatever is in the state and marks the version it saw.
    private long _version;
    private long _saved;
    private Task _writing = Task.CompletedTask;
    private Exception? _broken;
    private ChunkTotals _committed;

    private readonly CancellationTokenSource _draining = new();
    private bool _reporting;
    private bool _reportAgain;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _committed = Totals();
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_running is not { } running)
        {
            _stopping.Cancel();
            return;
        }

        // Drain before cancelling: no new item starts, and the running ones finish and record their ends. Cutting them
        // off would cost their calls twice (the provider bills a call it already answered, and the next run repeats it).
        _draining.Cancel();
        await Task.WhenAny(running, Task.Delay(DrainTimeout, cancellationToken));
        _stopping.Cancel();
        await Task.WhenAny(running, Task.Delay(TimeSpan.FromSeconds(5), cancellationToken));
        if (reason.ReasonCode == DeactivationReasonCode.ShuttingDown && _broken is null && !state.State.Done && _work is { } work)
        {
            try
            {
                await GrainFactory.GetGrain<IBatchActor>(work.BatchId).ChunkHandedBackAsync(work.Range.Index).WaitAsync(TimeSpan.FromSeconds(2), cancellationToken);
            }
            catch (Exception ex)
            {
                Log.ReportFailed(logger, work.BatchId, work.Range.Index, ex.Message); // the run then counts as an attempt
            }
        }
    }

    public Task<ChunkStatus> StartAsync(ChunkWork work)
    {
        if (state.State.Done)
        {
            return Task.FromResult(new ChunkStatus(false, true, state.State.Totals));
        }

        if (work.StopReason is { } reason)
        {
            Stop(reason);
        }

        var started = false;
        if (_running is null && _broken is null && !_forgotten)
        {
            if (work.Attempts >= work.MaxAttempts)
            {
                return Task.FromResult(new ChunkStatus(false, false, _committed, Exhausted: true));
            }

            _work = work;
            _run = null;
            _running = RunAsync(work);
            started = true;
        }

        return Task.FromResult(new ChunkStatus(started, false, _committed));
    }

    public Task StopAsync(string? reason)
    {
        if (reason is null)
        {
            _forgotten = true; // purged with its tenant: nothing more is recorded or booked
            Stop("batch_cancelled");
            this.DeactivateOnIdle();
        }
        else
        {
            Stop(reason);
        }

        return Task.CompletedTask;
    }

    /// <summary>Closes the gate for the items of this activation, now and for a run that has not begun yet.</summary>
    private void Stop(string reason)
    {
        _run?.Stop(reason);
        _pendingStop ??= reason;
    }

    private async Task RunAsync(ChunkWork work)
    {
        try
        {
            await BookOutboxAsync();
            var range = work.Range;
            if (state.State.Ends.Count < range.Count)
            {
                await RunItemsAsync(work);
            }

            if (_forgotten || _draining.IsCancellationRequested)
            {
                return; // forgotten, or handed to the next activation
            }

            if (state.State.Ends.Count < range.Count)
            {
                throw new InvalidOperationException($"Chunk {range.Index} of {work.BatchId}: the input file has fewer lines than were validated.");
            }

            await BookOutboxAsync();
            await FinishAsync(work);
        }
        catch (Exception ex) when (_stopping.IsCancellationRequested || _forgotten)
        {
            Log.Interrupted(logger, work.BatchId, work.Range.Index, ex.Message);
        }
        catch (Exception ex)
        {
            // The batch's next heartbeat revives the chunk in a new activation, which counts as an attempt.
            Log.Faulted(logger, work.BatchId, work.Range.Index, ex);
            _broken ??= ex;
            this.DeactivateOnIdle();
        }
    }

    private async Task RunItemsAsync(ChunkWork work)
    {
        var range = work.Range;
        var entry = await directory.GetAsync(work.TenantId);
        var tenant = new Tenant(work.TenantId, new ModelPatterns(entry?.Models ?? []));
        var run = new BatchRun(work, tenant, BatchValidator.OperationOf(work.Endpoint)!.Value, time, _stopping.Token);
        if (_pendingStop is { } stop)
        {
            run.Stop(stop);
        }

        _run = run;
        await using var part = parts.Open(work.TenantId, work.BatchId, range.Index, _owner);
        var copy = parts.InputPath(work.TenantId, work.BatchId);
        await using var input = File.Exists(copy)
            ? new FileStream(copy, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 64 * 1024, useAsync: true)
            : await files.OpenReadAsync(work.TenantId, work.InputFileId, _stopping.Token) // a batch validated before the copy existed
                ?? throw new InvalidOperationException($"The input file {work.InputFileId} of {work.BatchId} is gone.");
        input.Seek(range.Offset, SeekOrigin.Begin);
        using var reader = new JsonlReader(input, range.Offset);

        var running = new List<Task>();
        var unrun = new List<(int Item, ItemResult End)>();
        var item = range.FirstLine;
        while (item < range.FirstLine + range.Count && await reader.ReadLineAsync(options.Requests.MaxBodyBytes, _stopping.Token) is { } next)
        {
            if (next.Line.IsEmpty)
            {
                continue; // blank lines are not items (validation skipped them too)
            }

            var index = item++;
            if (_draining.IsCancellationRequested)
            {
                break; // the silo is going: what is left runs in the chunk's next activation
            }

            if (state.State.Ends.ContainsKey(index) || _forgotten)
            {
                continue;
            }

            var line = next.Line.ToArray();
            if (run.EndReason() is { } closed)
            {
                unrun.Add((index, BatchItemRunner.Unrun(BatchItemRunner.CustomIdOf(line), closed)));
                continue;
            }

            IDisposable slot;
            try
            {
                slot = await capacity.AcquireAsync(work.TenantId, _draining.Token); // a drain always comes before a stop
            }
            catch (OperationCanceledException)
            {
                break;
            }

            if (run.EndReason() is { } closedMeanwhile)
            {
                slot.Dispose();
                unrun.Add((index, BatchItemRunner.Unrun(BatchItemRunner.CustomIdOf(line), closedMeanwhile)));
                continue;
            }

            running.Add(RunItemAsync(run, part, index, line, slot));
        }

        // Unrun items end together: one commit, no upstream call.
        await RecordAsync(part, unrun);
        await Task.WhenAll(running);
    }

    private async Task RunItemAsync(BatchRun run, PartWriter part, int item, byte[] line, IDisposable slot)
    {
        ItemResult end;
        try
        {
            // Off the grain's scheduler: the item's many awaits (admission, the HTTP call, its body) resume on the thread pool
            // instead of queueing behind this activation's turns; only the end comes back to the grain.
            end = await Task.Run(() => executor.RunAsync(run, item, line));
        }
        catch (Exception ex) when (!_stopping.IsCancellationRequested && ex is not StoreUnavailableException)
        {
            // Not the chunk's failure: running the chunk again would meet the same line again.
            Log.ItemFailed(logger, run.Work.BatchId, item, ex);
            end = BatchItemRunner.Faulted(line);
        }
        finally
        {
            slot.Dispose();
        }

        await RecordAsync(part, [(item, end)]);
    }

    /// <summary>
    /// Decides the ends of these items, once: writes their lines, commits them, then books their usage. An item that ended
    /// already (it cannot here, but a stale activation could race) keeps its first end, and this call's usage is released.
    /// </summary>
    private async Task RecordAsync(PartWriter part, List<(int Item, ItemResult End)> ends)
    {
        if (ends.Count == 0)
        {
            return;
        }

        var recorded = new List<int>();
        foreach (var (item, end) in ends)
        {
            if (_forgotten || state.State.Ends.ContainsKey(item))
            {
                if (end.Settlement is { } unused)
                {
                    await tenants.GetTenant(_work!.TenantId).ReleaseAsync(unused.RequestId);
                }

                continue;
            }

            await part.AppendAsync(item, end.Line); // the line first: an end always has its line
            var usage = end.Settlement?.Record;
            state.State.Ends[item] = new ItemEndRecord(
                end.Outcome, _owner, end.Expired, usage?.PromptTokens ?? 0, usage?.CompletionTokens ?? 0, end.Settlement,
                Math.Max(0, usage?.CachedTokens ?? 0), Math.Max(0, usage?.ReasoningTokens ?? 0));
            recorded.Add(item);
        }

        if (recorded.Count == 0)
        {
            return;
        }

        _version++;
        await CommitAsync();
        foreach (var item in recorded)
        {
            // Counted once committed: a commit that throws leaves the items unended, to be run again. The usage too: a
            // committed end's settlement is booked exactly once (now, or from the outbox by a later activation).
            var end = state.State.Ends[item];
            metrics.BatchItemEnded(_work!.TenantId, end.Expired ? "expired" : end.Outcome == ItemOutcome.Succeeded ? "succeeded" : "failed");
            if (end.Unbooked is { } settlement)
            {
                metrics.Settled(settlement.Record, Relay.CallLane.BatchName);
            }
        }

        foreach (var item in recorded)
        {
            await BookAsync(item);
        }
    }

    /// <summary>Settles an ended item's usage on the tenant grain; one the store cannot take now stays in the outbox.</summary>
    private async Task<bool> BookAsync(int item)
    {
        if (state.State.Ends.GetValueOrDefault(item) is not { Unbooked: { } settlement } end)
        {
            return true;
        }

        try
        {
            await tenants.GetTenant(_work!.TenantId).SettleAsync(settlement);
        }
        catch (StoreUnavailableException ex)
        {
            Log.BookLater(logger, _work!.BatchId, item, ex.Message);
            return false;
        }

        if (state.State.Ends.GetValueOrDefault(item) == end)
        {
            state.State.Ends[item] = end with { Unbooked = null };
            _version++; // persisted with the next commit: a settle repeated after a crash books nothing twice
        }

        return true;
    }

    /// <summary>Books every end that is not booked yet, retrying until the tenant grain takes them all.</summary>
    private async Task BookOutboxAsync()
    {
        for (var attempt = 1; ; attempt++)
        {
            var unbooked = state.State.Ends.Where(e => e.Value.Unbooked is not null).Select(e => e.Key).ToList();
            var booked = true;
            foreach (var item in unbooked)
            {
                booked &= await BookAsync(item);
            }

            if (booked)
            {
                return;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5_000, 200 * attempt)), time, _stopping.Token);
        }
    }

    /// <summary>Writes the result files, tells the batch, then marks the chunk done and drops its item ends.</summary>
    private async Task FinishAsync(ChunkWork work)
    {
        var range = work.Range;
        var ends = state.State.Ends;
        await parts.CompactAsync(work.TenantId, work.BatchId, range.Index,
            (item, owner) => ends.GetValueOrDefault(item) is { } end && end.Owner == owner ? end.Outcome : null, _stopping.Token);
        var totals = Totals();
        var batch = GrainFactory.GetGrain<IBatchActor>(work.BatchId);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await batch.ChunkDoneAsync(range.Index, totals);
                break;
            }
            catch (Exception ex) when (!_stopping.IsCancellationRequested && attempt < 60)
            {
                Log.DoneRetry(logger, work.BatchId, range.Index, ex.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5_000, 200 * attempt)), time, _stopping.Token);
            }
        }

        state.State.Done = true;
        state.State.Totals = totals;
        state.State.Ends = [];
        _version++;
        await CommitAsync();
        parts.DeleteParts(work.TenantId, work.BatchId, range.Index);
        this.DeactivateOnIdle();
    }

    /// <summary>
    /// Waits until a commit that began after the latest change has succeeded (group commit: turns that change the state
    /// while a commit is in flight share the next one). A failed commit (the store is down, or a newer activation fenced
    /// this one) breaks the activation: every waiter fails, no item starts, and the next activation loads what was committed.
    /// </summary>
    private async Task CommitAsync()
    {
        var wanted = _version;
        while (_saved < wanted)
        {
            if (_broken is { } broken)
            {
                throw new StoreUnavailableException($"Chunk {this.GetPrimaryKeyString()} could not commit: {broken.Message}");
            }

            if (!_writing.IsCompleted)
            {
                try
                {
                    await _writing;
                }
                catch (Exception)
                {
                    // Seen by the check above.
                }

                continue;
            }

            _writing = WriteAsync();
        }
    }

    private async Task WriteAsync()
    {
        await Task.Delay(CommitLinger, time);
        var version = _version;
        var totals = Totals();
        try
        {
            await state.WriteStateAsync();
        }
        catch (Exception ex)
        {
            Log.CommitFailed(logger, this.GetPrimaryKeyString(), ex);
            _broken ??= ex;
            _run?.Stop("batch_cancelled"); // nothing more starts here; the next activation runs what is left
            this.DeactivateOnIdle();
            throw;
        }

        _saved = Math.Max(_saved, version);
        _committed = totals;
        Report();
    }

    private ChunkTotals Totals()
    {
        if (state.State.Done)
        {
            return state.State.Totals;
        }

        long completed = 0, failed = 0, expired = 0, input = 0, output = 0, cached = 0, reasoning = 0;
        foreach (var end in state.State.Ends.Values)
        {
            _ = end.Outcome == ItemOutcome.Succeeded ? completed++ : failed++;
            expired += end.Expired ? 1 : 0;
            input += end.InputTokens;
            output += end.OutputTokens;
            cached += end.CachedTokens;
            reasoning += end.ReasoningTokens;
        }

        return new ChunkTotals(completed, failed, expired, input, output, cached, reasoning);
    }

    /// <summary>Sends the committed totals to the batch, at most every <see cref="ReportInterval"/>, the latest winning.</summary>
    private void Report()
    {
        if (_reporting)
        {
            _reportAgain = true;
            return;
        }

        _reporting = true;
        _ = ReportLoopAsync();
    }

    private async Task ReportLoopAsync()
    {
        try
        {
            do
            {
                _reportAgain = false;
                try
                {
                    await GrainFactory.GetGrain<IBatchActor>(_work!.BatchId).ReportAsync(_work.Range.Index, _committed);
                }
                catch (Exception ex)
                {
                    Log.ReportFailed(logger, _work!.BatchId, _work.Range.Index, ex.Message); // progress only: the next report carries it
                }

                await Task.Delay(ReportInterval, time, _stopping.Token);
            }
            while (_reportAgain && !_stopping.IsCancellationRequested);
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            _reporting = false;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Error, Message = "Item {Item} of {BatchId} failed unexpectedly; it ends as a failed request")]
        public static partial void ItemFailed(ILogger logger, string batchId, int item, Exception exception);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Chunk {Chunk} of {BatchId} failed; the batch revives it")]
        public static partial void Faulted(ILogger logger, string batchId, int chunk, Exception exception);

        [LoggerMessage(Level = LogLevel.Information, Message = "Chunk {Chunk} of {BatchId} was interrupted: {Reason}")]
        public static partial void Interrupted(ILogger logger, string batchId, int chunk, string reason);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Chunk {Key} could not commit; it stops, and its next activation runs what is left")]
        public static partial void CommitFailed(ILogger logger, string key, Exception exception);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Usage of item {Item} of {BatchId} could not be booked yet: {Reason}")]
        public static partial void BookLater(ILogger logger, string batchId, int item, string reason);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Chunk {Chunk} of {BatchId} could not report its end yet: {Reason}")]
        public static partial void DoneRetry(ILogger logger, string batchId, int chunk, string reason);

        [LoggerMessage(Level = LogLevel.Debug, Message = "Progress of chunk {Chunk} of {BatchId} was not reported: {Reason}")]
        public static partial void ReportFailed(ILogger logger, string batchId, int chunk, string reason);
    }
}
