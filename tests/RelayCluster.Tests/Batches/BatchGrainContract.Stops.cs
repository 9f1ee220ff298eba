using System.Text.Json.Nodes;
using RelayCluster.Core.Auth;
using RelayCluster.Core.Batches;
using RelayCluster.Core.Tenants;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Batches;

/// <summary>
/// Batches that end before all their items ran: cancelled (at once: no item starts once the cancel has returned),
/// expired (per item), failed after a chunk kept failing, and forgotten with their tenant.
/// </summary>
public abstract partial class BatchGrainContract
{
    private async Task WaitStartedAsync(FakeUpstream.TenantUpstream upstream, int calls)
    {
        var started = await Eventually.WaitAsync(() => Task.FromResult(upstream.Started), n => n >= calls, TimeSpan.FromSeconds(20));
        Assert.True(started >= calls, $"only {started} upstream calls started\n{Cluster.RelayLog()}");
    }

    [Fact]
    public async Task A_cancel_stops_every_item_at_once_lets_running_ones_finish_and_bill_and_ends_the_rest_cancelled()
    {
        var tenant = await TenantAsync();
        var upstream = Cluster.Upstream.For(tenant);
        upstream.Delay = TimeSpan.FromMilliseconds(300);
        var ids = CustomIds(60);
        var id = await CreateAsync(tenant, await UploadAsync(tenant, ids.Select(c => Line(c))));
        await WaitStartedAsync(upstream, 4);

        var cancelling = await Cluster.Batches(NextSilo()).CancelAsync(tenant, id, Now());
        var startedAtCancel = upstream.Started;
        Assert.NotNull(cancelling);
        Assert.Equal(BatchStatus.Cancelling, cancelling.Status);
        Assert.NotNull(cancelling.CancellingAt);
        Assert.True(startedAtCancel < ids.Length, $"every item had started ({startedAtCancel}) before the cancel: nothing left to stop");

        var (cancelled, _) = await WaitFinalAsync(tenant, id);
        Assert.Equal(BatchStatus.Cancelled, cancelled.Status);
        Assert.NotNull(cancelled.CancelledAt);
        Assert.Equal(startedAtCancel, upstream.Started); // not one call started after the cancel returned
        Assert.Equal(0, upstream.InFlight);

        // The calls under way finished and were billed; every other item ended batch_cancelled, without a call.
        var (output, errors) = await ResultsAsync(tenant, cancelled, ids);
        var answered = output.Concat(errors).Where(l => l["response"] is JsonObject).ToList();
        Assert.Equal(startedAtCancel, answered.Count);
        var unrun = errors.Where(l => l["response"] is not JsonObject).ToList();
        Assert.All(unrun, l => Assert.Equal("batch_cancelled", ErrorCode(l)));
        Assert.Equal(ids.Length - startedAtCancel, unrun.Count);
        Assert.Equal(Billed(answered), (await SettledQuotaAsync(tenant)).SpentNanos);

        // A cancelled batch stays cancelled.
        Assert.Equal(cancelled, await Cluster.Batches(NextSilo()).CancelAsync(tenant, id, Now()));
        await AssertNoWorkFilesAsync(tenant, id);
    }

    [Fact]
    public async Task A_validating_batch_is_cancelled_at_once_and_its_late_validation_runs_nothing()
    {
        var tenant = await TenantAsync();
        var upstream = Cluster.Upstream.For(tenant);
        var file = await UploadAsync(tenant, CustomIds(8).Select(c => Line(c)));
        var hold = Cluster.Files.HoldNextRead(file);
        var id = await CreateAsync(tenant, file);
        await hold.Entered.Task.WaitAsync(TimeSpan.FromSeconds(10)); // the validation is reading the file

        var cancelled = await Cluster.Batches(NextSilo()).CancelAsync(tenant, id, Now());
        Assert.NotNull(cancelled);
        Assert.Equal(BatchStatus.Cancelled, cancelled.Status);
        Assert.True(cancelled.CancelledAt is not null && cancelled.CancellingAt is not null, Describe(cancelled));
        hold.Release();

        await AssertStaysAsync(async () => upstream.Started == 0 && (await Cluster.Batches(NextSilo()).GetAsync(tenant, id)) == cancelled,
            TimeSpan.FromSeconds(2), "a batch cancelled while validating changed or ran items once its validation ended");
    }

    [Fact]
    public async Task A_finalizing_batch_cancelled_ends_cancelled_with_the_files_of_what_ran()
    {
        var tenant = await TenantAsync();
        var ids = CustomIds(7);
        var hold = Cluster.Files.HoldNextOutput(tenant);
        var id = await CreateAsync(tenant, await UploadAsync(tenant, ids.Select(c => Line(c))));
        await hold.Entered.Task.WaitAsync(TimeSpan.FromSeconds(20)); // every item ended; the output file is being written
        Assert.Equal(BatchStatus.Finalizing, (await Cluster.Batches(NextSilo()).GetAsync(tenant, id))!.Status);

        var cancelling = await Cluster.Batches(NextSilo()).CancelAsync(tenant, id, Now());
        Assert.Equal(BatchStatus.Cancelling, cancelling!.Status);
        hold.Release();

        var (cancelled, _) = await WaitFinalAsync(tenant, id);
        Assert.Equal(BatchStatus.Cancelled, cancelled.Status);
        Assert.True(cancelled.CancelledAt is not null && cancelled.FinalizingAt is not null && cancelled.CompletedAt is null, Describe(cancelled));
        var (output, _) = await ResultsAsync(tenant, cancelled, ids);
        Assert.Equal(7, output.Count);
        Assert.Equal(Billed(output), (await SettledQuotaAsync(tenant)).SpentNanos);
    }

    [Fact]
    public async Task One_tenants_blocked_batch_holds_at_most_its_share_and_another_tenants_batch_completes_meanwhile()
    {
        var big = await TenantAsync();
        var stuck = Cluster.Upstream.For(big);
        stuck.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously); // its calls never answer
        var bigId = await CreateAsync(big, await UploadAsync(big, CustomIds(60).Select(c => Line(c))));
        await WaitStartedAsync(stuck, 2);

        var small = await TenantAsync();
        var ids = CustomIds(6, "s");
        var smallId = await CreateAsync(small, await UploadAsync(small, ids.Select(c => Line(c))));
        var (done, _) = await WaitFinalAsync(small, smallId, TimeSpan.FromSeconds(20));
        Assert.Equal((BatchStatus.Completed, 6L), (done.Status, done.Completed));

        // Meanwhile the big tenant held no more than its share: half of each silo's item slots.
        var share = Cluster.Options.Batches.ItemsPerTenant;
        Assert.All(stuck.StartedOn, s => Assert.True(s.Value <= share, $"{big} holds {s.Value} slots on {s.Key}, more than its share {share}"));
        Assert.NotEqual(BatchStatus.Completed, (await Cluster.Batches(NextSilo()).GetAsync(big, bigId))!.Status);

        await Cluster.Batches(NextSilo()).CancelAsync(big, bigId, Now());
        stuck.Gate.TrySetResult();
        Assert.Equal(BatchStatus.Cancelled, (await WaitFinalAsync(big, bigId)).Final.Status);
    }

    [Fact]
    public async Task A_batch_past_its_window_ends_every_item_batch_expired_without_a_call()
    {
        var tenant = await TenantAsync();
        var upstream = Cluster.Upstream.For(tenant);
        var ids = CustomIds(12);
        var id = await CreateAsync(tenant, await UploadAsync(tenant, ids.Select(c => Line(c))), expiresAt: Now() - 1);

        var (expired, _) = await WaitFinalAsync(tenant, id);
        Assert.Equal(BatchStatus.Expired, expired.Status);
        Assert.NotNull(expired.ExpiredAt);
        Assert.Equal((12L, 0L, 12L, 12L), (expired.Total, expired.Completed, expired.Failed, expired.ExpiredItems));
        var (_, errors) = await ResultsAsync(tenant, expired, ids);
        Assert.All(errors, l => Assert.Equal("batch_expired", ErrorCode(l)));
        Assert.Null(expired.OutputFileId);
        Assert.Equal(0, upstream.Started);
        Assert.Equal(0, (await SettledQuotaAsync(tenant)).SpentNanos);
    }

    [Fact]
    public async Task A_batch_whose_window_closes_mid_run_keeps_what_ran_and_expires_the_rest()
    {
        var tenant = await TenantAsync();
        var upstream = Cluster.Upstream.For(tenant);
        upstream.Delay = TimeSpan.FromMilliseconds(600);
        var ids = CustomIds(80);
        var id = await CreateAsync(tenant, await UploadAsync(tenant, ids.Select(c => Line(c))), expiresAt: Now() + 3);

        var (expired, _) = await WaitFinalAsync(tenant, id);
        Assert.Equal(BatchStatus.Expired, expired.Status);
        var (output, errors) = await ResultsAsync(tenant, expired, ids);
        var unrun = errors.Where(l => l["response"] is not JsonObject).ToList();
        Assert.All(unrun, l => Assert.Equal("batch_expired", ErrorCode(l)));
        Assert.Equal(expired.ExpiredItems, unrun.Count);
        Assert.True(output.Count > 0 && unrun.Count > 0, $"{output.Count} ran and {unrun.Count} expired: the window did not close mid-run");
        Assert.Equal(output.Count, upstream.Started);
        Assert.Equal(Billed(output), (await SettledQuotaAsync(tenant)).SpentNanos);
        await AssertNoWorkFilesAsync(tenant, id);
    }

    [Fact]
    public async Task A_chunk_whose_runs_keep_failing_fails_the_batch_after_MaxTaskAttempts_runs()
    {
        var tenant = await TenantAsync();
        var upstream = Cluster.Upstream.For(tenant);
        upstream.Breaking.Add("c-7"); // chunk 1 (items 5 to 9) breaks on every run
        upstream.Delay = TimeSpan.FromMilliseconds(300); // the other chunks are still running when the batch fails
        var ids = CustomIds(60);
        var id = await CreateAsync(tenant, await UploadAsync(tenant, ids.Select(c => Line(c))));

        var (failed, _) = await WaitFinalAsync(tenant, id);
        Assert.Equal(BatchStatus.Failed, failed.Status);
        Assert.NotNull(failed.FailedAt);
        var error = Assert.Single(JsonNode.Parse(failed.ErrorsJson!)!.AsArray())!;
        Assert.Equal("batch_task_failed", (string?)error["code"]);
        Assert.Contains("chunk 1", (string?)error["message"], StringComparison.Ordinal);

        // Nothing more starts once the batch has failed and its running calls are done; what ran was booked, and its
        // results are salvaged into the failed batch's output file (the items that ran were billed).
        await Eventually.WaitAsync(() => Task.FromResult(upstream.InFlight), n => n == 0);
        var salvaged = await Eventually.WaitAsync(
            async () => (await Cluster.Batches(NextSilo()).GetAsync(tenant, id))!, b => b.OutputFileId is not null, TimeSpan.FromSeconds(15));
        Assert.Equal(failed with { OutputFileId = salvaged!.OutputFileId, ErrorFileId = salvaged.ErrorFileId }, salvaged);
        var started = upstream.Started;
        await AssertStaysAsync(async () => upstream.Started == started && (await Cluster.Batches(NextSilo()).GetAsync(tenant, id)) == salvaged,
            TimeSpan.FromSeconds(1.5), "a failed batch kept running items or changed");
        // Every call answered was booked once, though the batch failed around it.
        var answered = upstream.Answered.ToList();
        Assert.Equal(answered.Count, answered.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(answered.Sum(FakeUpstream.CostOf), (await SettledQuotaAsync(tenant)).SpentNanos);

        await AssertNoWorkFilesAsync(tenant, id);

        // MaxTaskAttempts runs at most (BatchOptions: "Attempts of a batch's task before the batch fails").
        var runs = upstream.Runs.GetValueOrDefault("c-7");
        Assert.True(runs <= Cluster.Options.Batches.MaxTaskAttempts,
            $"the failing chunk ran {runs} times, more than MaxTaskAttempts ({Cluster.Options.Batches.MaxTaskAttempts})");
    }

    [Fact]
    public async Task A_batch_whose_input_file_is_lost_after_validation_runs_from_its_own_copy()
    {
        var tenant = await TenantAsync();
        var upstream = Cluster.Upstream.For(tenant);
        var ids = CustomIds(12);
        var file = await UploadAsync(tenant, ids.Select(c => Line(c)));
        Cluster.Files.LoseAfter(file, 2); // the validation reads it and copies it; then it is gone for everyone
        var id = await CreateAsync(tenant, file);

        var (done, _) = await WaitFinalAsync(tenant, id);
        Assert.Equal((BatchStatus.Completed, 12L), (done.Status, done.Completed));
        var (output, errors) = await ResultsAsync(tenant, done, ids);
        Assert.Equal(12, output.Count + errors.Count);
        Assert.Equal(12, upstream.Started);
        await AssertNoWorkFilesAsync(tenant, id);
    }

    [Fact]
    public async Task A_purged_tenants_batches_are_gone_their_chunks_stop_and_nothing_is_booked_to_the_ids_next_tenant()
    {
        var tenant = await TenantAsync();
        var upstream = Cluster.Upstream.For(tenant);
        var done = await CreateAsync(tenant, await UploadAsync(tenant, [Line("early")]));
        Assert.Equal(BatchStatus.Completed, (await WaitFinalAsync(tenant, done)).Final.Status);
        upstream.Delay = TimeSpan.FromMilliseconds(400);
        var running = await CreateAsync(tenant, await UploadAsync(tenant, CustomIds(60).Select(c => Line(c))));
        await WaitStartedAsync(upstream, 5);

        await Cluster.Purge(NextSilo()).PurgeAsync(tenant);
        var startedAtPurge = upstream.Started;
        var tenants = Cluster.Tenants(NextSilo());
        await tenants.BeginIncarnationAsync(tenant, TenantIncarnation.New()); // the id's next tenant
        await tenants.GetTenant(tenant).SetLimitsAsync(new TenantLimits(null, null, 1_000, 1_000_000_000_000));

        Assert.Null(await Cluster.Batches(NextSilo()).GetAsync(tenant, done));
        Assert.Null(await Cluster.Batches(NextSilo()).GetAsync(tenant, running));
        Assert.Empty((await Cluster.Batches(NextSilo()).ListAsync(tenant, null, 10)).Batches);
        Assert.Null(await Cluster.Batches(NextSilo()).CancelAsync(tenant, running, Now()));

        // The calls under way end; nothing starts, nothing is booked to the new tenant, and the batches stay gone.
        var inFlight = await Eventually.WaitAsync(() => Task.FromResult(upstream.InFlight), n => n == 0);
        Assert.Equal(0, inFlight);
        await AssertStaysAsync(async () =>
        {
            var quota = await Cluster.Tenants(NextSilo()).GetTenant(tenant).GetQuotaAsync();
            return upstream.Started == startedAtPurge && quota.SpentNanos == 0 && quota.ReservedNanos == 0
                && await Cluster.Batches(NextSilo()).GetAsync(tenant, running) is null;
        }, TimeSpan.FromSeconds(2.5), "after the purge an item started, was booked to the new tenant, or its batch came back");
        await AssertNoWorkFilesAsync(tenant, running);
    }
}
