using RelayCluster.Core.Batches;
using RelayCluster.Core.Configuration;
using RelayCluster.Silo.Hosting;

namespace RelayCluster.Silo.Batches;

/// <summary>
/// A batch as a grain: its status machine (<see cref="BatchOutcome"/>), counts, files and expiry, and the dispatch of its
/// chunks to <see cref="IBatchChunkActor"/> grains, which Orleans places over the silos.
/// <code>
///  create ─► validating ─(validation job)─► in_progress ─► chunks dispatched, at most MaxConcurrentChunks per active silo
///     chunk reports (absolute totals) ─► counts, committed and published at most every ProgressIntervalMs
///     chunk done ─► next chunk ─► … last chunk done ─► finalizing ─(finalization job)─► completed | expired | cancelled
/// </code>
/// While the batch is not final, a grain timer drives it, and a <c>watchdog</c> reminder (1 min, on the cluster's reminder
/// table) revives it on a live silo if its own died. Every <c>LeaseSeconds / 3</c> (at most 5 s) it calls each running
/// chunk: the call revives a chunk whose silo died, on a live one, and each revival counts as an attempt of that chunk;
/// past <c>MaxTaskAttempts</c> the batch fails. Long jobs (validating the input, assembling the result files) run off the
/// grain's turn and come back as a <see cref="IBatchActor.JobDoneAsync"/> call naming their activation's job, so a late
/// result of a dead activation is ignored. What the grain answers and publishes has been committed first.
/// </summary>
internal sealed partial class BatchGrain(
    [PersistentState("batch", OrleansHosting.GrainStorage)] IPersistentState<BatchRecord> state,
    BatchJobs jobs, PartFiles parts, BatchProgress progress, RelayOptions options, TimeProvider time,
    IClusterMembershipService membership, ILocalSiloDetails local, Console.Live.LiveFeed live, ILogger<BatchGrain> logger)
    : Grain, IBatchActor, IRemindable
{
    private const string Watchdog = "watchdog";

    private BatchState? _visible;
    private IGrainTimer? _timer;
    private string? _job;
    private long _jobRetryAt;
    private long _lastFlush;
    private long _lastHeartbeat;
    private bool _dirty;

    private BatchOptions Batches => options.Batches;

    private BatchRecord Record => state.State;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _visible = Record.Batch;
        if (_visible is { } batch && !BatchStatus.IsFinal(batch.Status))
        {
            StartTimer();
        }

        return Task.CompletedTask;
    }

    public async Task CreateAsync(BatchCreation creation)
    {
        if (Record.Batch is not null)
        {
            return;
        }

        Record.Batch = new BatchState
        {
            Id = creation.Id,
            TenantId = creation.TenantId,
            Endpoint = creation.Endpoint,
            InputFileId = creation.InputFileId,
            Status = BatchStatus.Validating,
            CreatedAt = creation.CreatedAt,
            ExpiresAt = creation.ExpiresAt,
            MetadataJson = creation.MetadataJson,
        };
        await CommitAsync(publish: false);
        await this.RegisterOrUpdateReminder(Watchdog, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
        StartJob(BatchJobKind.Validate);
        StartTimer();
    }

    public Task<BatchState?> GetAsync(string tenantId) =>
        Task.FromResult(_visible is { } batch && batch.TenantId == tenantId ? batch : null);

    public Task<string> HostAsync() => Task.FromResult(local.SiloAddress.ToParsableString());

    public async Task<BatchState?> CancelAsync(string tenantId, long now)
    {
        if (Record.Batch is not { } batch || batch.TenantId != tenantId)
        {
            return null;
        }

        if (!BatchOutcome.MayCancel(batch.Status))
        {
            return _visible;
        }

        if (batch.Status == BatchStatus.Validating)
        {
            // Nothing has run: the batch ends now, and the validation job's result is ignored.
            _job = null;
            Record.Batch = batch with { Status = BatchStatus.Cancelled, CancellingAt = now, CancelledAt = now };
            await CommitAsync(publish: true);
            await EndedAsync();
            return _visible;
        }

        Record.Batch = batch with { Status = BatchStatus.Cancelling, CancellingAt = now };
        await CommitAsync(publish: true);
        await StopChunksAsync(BatchItemReasons.Cancelled);
        return _visible;
    }

    public Task ReportAsync(int chunk, ChunkTotals totals)
    {
        if (Record.Running.TryGetValue(chunk, out var running) && Record.Batch is { } batch && !BatchStatus.IsFinal(batch.Status))
        {
            running.Totals = ChunkTotals.Max(running.Totals, totals);
            Recount();
        }

        return Task.CompletedTask;
    }

    public async Task ChunkDoneAsync(int chunk, ChunkTotals totals)
    {
        if (!Record.Running.Remove(chunk))
        {
            return; // told already (a repeated report)
        }

        if (Record.Batch is not { } batch || BatchStatus.IsFinal(batch.Status))
        {
            // A late report: a batch ends only once every chunk is done or given up (a failing one winds down first).
            await CommitAsync(publish: false);
            return;
        }

        Record.Done += totals;
        Record.DoneChunks++;
        Recount();
        if (Record.DoneChunks >= batch.Chunks)
        {
            Record.Batch = BatchOutcome.AllEnded(Record.Batch!, time.GetUtcNow().ToUnixTimeSeconds());
            Record.JobAttempts = 0;
            await CommitAsync(publish: true);
            StartJob(BatchJobKind.Finalize);
            return;
        }

        await DispatchAsync(commitFirst: true);
    }

    public async Task ChunkHandedBackAsync(int chunk)
    {
        if (Record.Running.TryGetValue(chunk, out var running) && running.Starts > 0)
        {
            running.Starts--;
            await CommitAsync(publish: false);
        }
    }

    public async Task JobDoneAsync(BatchJobResult result)
    {
        if (result.Job != _job)
        {
            await jobs.DiscardAsync(Record.Batch, result); // a job of a dead activation, or one cancelled since
            return;
        }

        _job = null;
        if (Record.Batch is not { } batch || BatchStatus.IsFinal(batch.Status))
        {
            await jobs.DiscardAsync(Record.Batch, result);
            return;
        }

        var now = time.GetUtcNow().ToUnixTimeSeconds();
        if (result.Failure is { } failure)
        {
            Record.JobAttempts++;
            Log.JobFailed(logger, result.Kind, batch.Id, Record.JobAttempts, failure);
            if (Record.JobAttempts >= Batches.MaxTaskAttempts)
            {
                var task = result.Kind == BatchJobKind.Validate ? "validating the input file" : "assembling the output files";
                await AbandonAsync($"The batch failed: {task} did not succeed in {Record.JobAttempts} attempts. No further attempts will be made.");
                return;
            }

            _jobRetryAt = time.GetTimestamp() + (long)(Backoff(Record.JobAttempts).TotalSeconds * time.TimestampFrequency);
            await CommitAsync(publish: false);
            return;
        }

        Record.JobAttempts = 0;
        if (result.Kind == BatchJobKind.Validate && batch.Status == BatchStatus.Validating)
        {
            if (result.ErrorsJson is { } errors)
            {
                Record.Batch = batch with { Status = BatchStatus.Failed, FailedAt = now, ErrorsJson = errors };
                await CommitAsync(publish: true);
                await EndedAsync();
                return;
            }

            Record.Batch = batch with
            {
                Status = BatchStatus.InProgress, InProgressAt = now, Total = result.Total, Chunks = result.Chunks, Model = result.Model,
            };
            await DispatchAsync(commitFirst: true, publish: true);
        }
        else if (result.Kind == BatchJobKind.Finalize && BatchOutcome.AwaitsFinish(batch))
        {
            Record.Batch = Record.FailErrors is { } failErrors && batch.Status != BatchStatus.Cancelling
                ? batch with { Status = BatchStatus.Failed, FailedAt = now, ErrorsJson = failErrors, OutputFileId = result.OutputFileId, ErrorFileId = result.ErrorFileId }
                : BatchOutcome.Finish(batch, result.OutputFileId, result.ErrorFileId, now);
            await CommitAsync(publish: true);
            await EndedAsync();
        }
        else
        {
            await jobs.DiscardAsync(batch, result);
        }
    }

    public async Task PurgeAsync(string tenantId)
    {
        if (Record.Batch is not { } batch || batch.TenantId != tenantId)
        {
            return;
        }

        _job = null;
        await StopChunksAsync(reason: null);
        _timer?.Dispose();
        _timer = null;
        await UnregisterWatchdogAsync();
        await state.ClearStateAsync();
        _visible = null;
        this.DeactivateOnIdle();
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (Record.Batch is not { } batch || BatchStatus.IsFinal(batch.Status))
        {
            await UnregisterWatchdogAsync(); // nothing left to watch (a late tick, or a purged batch)
            return;
        }

        StartTimer(); // revived by the reminder: the timer takes over at once
    }

    private void StartTimer()
    {
        var period = TimeSpan.FromMilliseconds(Math.Clamp(Batches.ProgressIntervalMs, 50, 1000));
        _timer ??= this.RegisterGrainTimer(TickAsync, new GrainTimerCreationOptions(TimeSpan.Zero, period) { KeepAlive = true });
    }

    /// <summary>One tick: start the job the status needs, dispatch, beat the running chunks' hearts, commit progress.</summary>
    private async Task TickAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (Record.Batch is not { } batch || BatchStatus.IsFinal(batch.Status))
            {
                _timer?.Dispose();
                _timer = null;
                return;
            }

            if (batch.Status == BatchStatus.Validating)
            {
                StartJob(BatchJobKind.Validate);
            }
            else if (BatchOutcome.AwaitsFinish(batch))
            {
                StartJob(BatchJobKind.Finalize);
            }
            else if (batch.InProgressAt is not null && Record.DoneChunks >= batch.Chunks)
            {
                // Every chunk is done but the batch missed the moment (a state recovered mid-step): finalize now.
                Record.Batch = BatchOutcome.AllEnded(batch, time.GetUtcNow().ToUnixTimeSeconds());
                await CommitAsync(publish: true);
                StartJob(BatchJobKind.Finalize);
            }
            else if (batch.InProgressAt is not null)
            {
                await DispatchAsync(commitFirst: true);
                if (time.GetElapsedTime(_lastHeartbeat) >= HeartbeatPeriod())
                {
                    await HeartbeatAsync();
                }
            }

            if (_dirty && time.GetElapsedTime(_lastFlush).TotalMilliseconds >= Batches.ProgressIntervalMs)
            {
                await CommitAsync(publish: true);
            }
        }
        catch (Exception ex)
        {
            // A failed commit: this activation may be stale or ahead of the store. The next call or tick loads afresh.
            Log.TickFailed(logger, this.GetPrimaryKeyString(), ex);
            this.DeactivateOnIdle();
        }
    }

    private TimeSpan HeartbeatPeriod() => TimeSpan.FromSeconds(Math.Clamp(Batches.LeaseSeconds / 3, 0.2, 5));

    /// <summary>Dispatches chunks until MaxConcurrentChunks per active silo run; the new running set is committed first.</summary>
    private async Task DispatchAsync(bool commitFirst, bool publish = false)
    {
        var batch = Record.Batch!;
        var silos = Math.Max(1, membership.CurrentSnapshot.Members.Count(m => m.Value.Status == SiloStatus.Active));
        var most = Math.Max(1, Batches.MaxConcurrentChunks) * silos;
        var started = new List<int>();
        while (Record.Running.Count < most && Record.NextChunk < batch.Chunks)
        {
            var chunk = Record.NextChunk++;
            Record.Running[chunk] = new RunningChunk();
            started.Add(chunk);
        }

        if (started.Count == 0 && !publish)
        {
            return;
        }

        if (commitFirst)
        {
            await CommitAsync(publish); // a batch revived after a crash calls these chunks again: they must be on record
        }

        await CallChunksAsync(started);
    }

    /// <summary>Calls every running chunk: revives those whose silo died, and learns of ends the batch missed.</summary>
    private async Task HeartbeatAsync()
    {
        _lastHeartbeat = time.GetTimestamp();
        await CallChunksAsync([.. Record.Running.Keys]);
    }

    private async Task CallChunksAsync(List<int> chunks)
    {
        if (chunks.Count == 0)
        {
            return;
        }

        var calls = chunks.Select(async chunk =>
        {
            if (Work(chunk) is not { } work)
            {
                return (chunk, (ChunkStatus?)new ChunkStatus(false, false, default, Exhausted: true, NoPlan: true));
            }

            try
            {
                // Short: a chunk on a silo not yet declared dead would hold the batch's turn for the whole call timeout.
                return (chunk, await Chunk(chunk).StartAsync(work).WaitAsync(TimeSpan.FromSeconds(2)));
            }
            catch (Exception ex)
            {
                Log.ChunkUnreachable(logger, Record.Batch!.Id, chunk, ex.Message);
                return (chunk, (ChunkStatus?)null);
            }
        }).ToList();

        var changed = false;
        foreach (var (chunk, answer) in await Task.WhenAll(calls))
        {
            if (answer is not { } status || !Record.Running.TryGetValue(chunk, out var running))
            {
                continue;
            }

            if (status.Done)
            {
                await ChunkDoneAsync(chunk, status.Totals);
                continue;
            }

            running.Totals = ChunkTotals.Max(running.Totals, status.Totals);
            if (status.Started)
            {
                running.Starts++;
                changed = true;
            }
            else if (status.Exhausted && (Record.FailErrors is not null || Record.Batch!.Status == BatchStatus.Cancelling))
            {
                // Winding down, the chunk still cannot run (even without calls): the batch goes on without it, its items
                // unaccounted (their lines, if any, are lost with it).
                Log.DrainGaveUp(logger, Record.Batch!.Id, chunk);
                Record.Running.Remove(chunk);
                await ChunkGivenUpAsync();
                return;
            }
            else if (status.Exhausted)
            {
                // The chunk refused a run past its last attempt (or its plan is gone): the batch ends here, before anything
                // more starts.
                var range = Work(chunk)?.Range;
                await AbandonAsync(status.NoPlan
                    ? $"The batch failed: the boundaries of chunk {chunk} are missing from {Batches.WorkPath} (Relay:Batches:WorkPath must be one volume shared by every silo)."
                    : $"The batch failed: running requests {(range?.FirstLine ?? 0) + 1} onwards (chunk {chunk}) did not succeed in "
                        + $"{Batches.MaxTaskAttempts} attempts. No further attempts will be made.");
                return;
            }
        }

        Recount();
        if (changed)
        {
            await CommitAsync(publish: false);
        }
    }

    /// <summary>A chunk given up on while the batch winds down counts as done (with nothing), so the batch can finish.</summary>
    private async Task ChunkGivenUpAsync()
    {
        Record.DoneChunks++;
        if (Record.DoneChunks >= Record.Batch!.Chunks)
        {
            Record.Batch = BatchOutcome.AllEnded(Record.Batch, time.GetUtcNow().ToUnixTimeSeconds());
            Record.JobAttempts = 0;
            await CommitAsync(publish: true);
            StartJob(BatchJobKind.Finalize);
            return;
        }

        await CommitAsync(publish: false);
        await DispatchAsync(commitFirst: true);
    }

    /// <summary>Fails the batch (a cancelling one ends cancelled) after a task kept failing, and stops its chunks.</summary>
    private async Task AbandonAsync(string message)
    {
        var errors = BatchValidation.Errors([new("batch_task_failed", message, null, null)]);
        var batch = Record.Batch!;
        var cancelling = batch.Status == BatchStatus.Cancelling;
        Log.Abandoned(logger, batch.Id, message);
        if (batch.InProgressAt is not null && batch.FinalizingAt is null && !cancelling)
        {
            // Items have run: the batch winds down instead of ending on the spot, so that it ends failed with the results
            // its calls were billed for and every item accounted for (see BatchRecord.FailErrors).
            if (Record.FailErrors is null)
            {
                Record.FailErrors = errors;
                await CommitAsync(publish: false);
                await StopChunksAsync(BatchItemReasons.Failed);
            }

            return;
        }

        Record.Batch = BatchOutcome.Abandon(batch, errors, time.GetUtcNow().ToUnixTimeSeconds());
        _job = null;
        await CommitAsync(publish: true);
        await StopChunksAsync(cancelling ? BatchItemReasons.Cancelled : BatchItemReasons.Failed);
        await EndedAsync();
    }

    /// <summary>Closes every running chunk's gate; returns once each has answered (or could not be reached in time).</summary>
    private async Task StopChunksAsync(string? reason)
    {
        await Task.WhenAll(Record.Running.Keys.ToList().Select(async chunk =>
        {
            try
            {
                await Chunk(chunk).StopAsync(reason).WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (Exception ex)
            {
                // Its silo is gone: when the chunk is revived, the stop travels with its work.
                Log.ChunkUnreachable(logger, Record.Batch?.Id ?? "", chunk, ex.Message);
            }
        }));
    }

    /// <summary>A final batch: no more ticks or reminders; the part files go (the result files were assembled).</summary>
    private async Task EndedAsync()
    {
        _timer?.Dispose();
        _timer = null;
        await UnregisterWatchdogAsync();
        if (Record.Batch is { } batch)
        {
            parts.Delete(batch.TenantId, batch.Id);
        }
    }

    private async Task UnregisterWatchdogAsync()
    {
        try
        {
            if (await this.GetReminder(Watchdog) is { } reminder)
            {
                await this.UnregisterReminder(reminder);
            }
        }
        catch (Exception ex)
        {
            Log.ReminderFailed(logger, this.GetPrimaryKeyString(), ex.Message); // a later tick finds the batch final and tries again
        }
    }

    private void StartJob(BatchJobKind kind)
    {
        if (_job is not null || time.GetTimestamp() < _jobRetryAt)
        {
            return;
        }

        var job = Guid.NewGuid().ToString("N");
        _job = job;
        var batch = Record.Batch!;
        var self = this.AsReference<IBatchActor>();
        _ = Task.Run(async () =>
        {
            var result = await jobs.RunAsync(kind, job, batch);
            for (var attempt = 1; attempt <= 30; attempt++)
            {
                try
                {
                    await self.JobDoneAsync(result);
                    return;
                }
                catch (Exception ex)
                {
                    Log.JobReportRetry(logger, batch.Id, ex.Message);
                    await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), time);
                }
            }
        });
    }

    private ChunkWork? Work(int chunk)
    {
        var batch = Record.Batch!;
        if (parts.ReadPlan(batch.TenantId, batch.Id, chunk) is not { } range)
        {
            return null;
        }

        var stop = batch.Status switch
        {
            BatchStatus.Cancelling or BatchStatus.Cancelled => BatchItemReasons.Cancelled,
            BatchStatus.Failed => BatchItemReasons.Failed,
            _ when Record.FailErrors is not null => BatchItemReasons.Failed,
            _ => null,
        };
        // A batch winding down runs its chunks without calls (the gate is closed), with as many attempts again.
        var most = Math.Max(1, Batches.MaxTaskAttempts) * (stop is null ? 1 : 2);
        return new ChunkWork(batch.TenantId, batch.Id, batch.Endpoint, batch.InputFileId, batch.ExpiresAt, range, stop,
            Record.Running.GetValueOrDefault(chunk)?.Starts ?? 0, most);
    }

    private IBatchChunkActor Chunk(int chunk) => GrainFactory.GetGrain<IBatchChunkActor>($"{this.GetPrimaryKeyString()}/{chunk}");

    /// <summary>The counts: the ended chunks' totals plus the running chunks' latest reports (a final batch's stay as they are).</summary>
    private void Recount()
    {
        if (Record.Batch is not { } current || BatchStatus.IsFinal(current.Status))
        {
            return;
        }

        var totals = Record.Done;
        foreach (var running in Record.Running.Values)
        {
            totals += running.Totals;
        }

        if (Record.Batch is { } batch && (batch.Completed, batch.Failed, batch.ExpiredItems, batch.InputTokens, batch.OutputTokens, batch.CachedTokens, batch.ReasoningTokens)
            != (totals.Completed, totals.Failed, totals.Expired, totals.InputTokens, totals.OutputTokens, totals.CachedTokens, totals.ReasoningTokens))
        {
            Record.Batch = batch with
            {
                Completed = totals.Completed, Failed = totals.Failed, ExpiredItems = totals.Expired,
                InputTokens = totals.InputTokens, OutputTokens = totals.OutputTokens,
                CachedTokens = totals.CachedTokens, ReasoningTokens = totals.ReasoningTokens,
            };
            _dirty = true;
        }
    }

    /// <summary>
    /// Commits the record; only then is it answered (and, if asked, published) as the batch. A failed commit (the store is
    /// down, or a newer activation fenced this one) ends the activation: its record is ahead of the store, and the next call
    /// loads what was committed.
    /// </summary>
    private async Task CommitAsync(bool publish)
    {
        var statusBefore = _visible?.Status;
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            _timer?.Dispose();
            _timer = null;
            this.DeactivateOnIdle();
            throw;
        }

        _visible = Record.Batch;
        _dirty = false;
        _lastFlush = time.GetTimestamp();
        if (_visible is { } committed && live.Watched)
        {
            live.Batch(committed); // the admin hub's batches feed: every committed change, only while a console watches
        }

        if ((publish || statusBefore != _visible?.Status) && _visible is { } batch)
        {
            await progress.PublishAsync(batch, force: statusBefore != batch.Status);
        }
    }

    private TimeSpan Backoff(int attempt) =>
        TimeSpan.FromMilliseconds(Math.Min(Batches.LeaseSeconds * 1000, Batches.RetryBaseMs * Math.Pow(2, attempt - 1)));

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Batch job {Kind} of {BatchId} failed on attempt {Attempt}: {Failure}")]
        public static partial void JobFailed(ILogger logger, BatchJobKind kind, string batchId, int attempt, string failure);

        [LoggerMessage(Level = LogLevel.Error, Message = "Batch {BatchId} was given up: {Message}")]
        public static partial void Abandoned(ILogger logger, string batchId, string message);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Batch {Key}: a tick failed; the activation goes and the next loads what was committed")]
        public static partial void TickFailed(ILogger logger, string key, Exception exception);

        [LoggerMessage(Level = LogLevel.Information, Message = "Batch {BatchId}: chunk {Chunk} did not answer: {Reason}")]
        public static partial void ChunkUnreachable(ILogger logger, string batchId, int chunk, string reason);

        [LoggerMessage(Level = LogLevel.Error, Message = "Batch {BatchId}: chunk {Chunk} could not be wound down; usage it committed but did not book stays unbooked")]
        public static partial void DrainGaveUp(ILogger logger, string batchId, int chunk);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Batch {Key}: its watchdog reminder could not be removed: {Reason}")]
        public static partial void ReminderFailed(ILogger logger, string key, string reason);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Batch {BatchId}: a job's result could not be delivered yet: {Reason}")]
        public static partial void JobReportRetry(ILogger logger, string batchId, string reason);
    }
}

/// <summary>The OpenAI error codes of items that end without running.</summary>
internal static class BatchItemReasons
{
    public const string Cancelled = "batch_cancelled";
    public const string Failed = "batch_failed";
    public const string Expired = "batch_expired";
}
