using RelayCluster.Core.Batches;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Tests.Batches;

/// <summary>
/// Tasks that keep failing: every lease is an attempt (a graceful hand-back returns it), a failed attempt waits in
/// the store, a task given up on ends its batch, and a cancel ends a batch in any unfinished state.
/// </summary>
public abstract partial class BatchStoreContract
{
    /// <summary>Leases everything there is (holding it), returns what belongs to <paramref name="tenant"/>, and gives the rest back.</summary>
    private static async Task<List<BatchLease>> DrainAsync(IBatchStore store, string tenant, IReadOnlyCollection<string>? busy = null)
    {
        var all = new List<BatchLease>();
        while (await store.LeaseAsync("w1", TimeSpan.FromSeconds(30), busy) is { } lease)
        {
            all.Add(lease);
        }

        foreach (var other in all.Where(l => l.TenantId != tenant))
        {
            await store.ReleaseAsync(other);
        }

        return [.. all.Where(l => l.TenantId == tenant)];
    }

    [Fact]
    public async Task Every_lease_is_an_attempt_a_failed_one_stays_counted_and_a_graceful_release_hands_it_back()
    {
        var (store, _) = Store();
        var tenant = NewTenant();
        await store.CreateAsync(Creation(tenant, "batch_n"));

        var first = await LeaseOfAsync(store, tenant);
        Assert.Equal(1, first.Attempt);
        await store.RetryLaterAsync(first, TimeSpan.Zero);
        var second = await LeaseOfAsync(store, tenant);
        Assert.Equal((first.EntryId, 2), (second.EntryId, second.Attempt));
        Assert.NotEqual(first.LeaseId, second.LeaseId);

        await store.ReleaseAsync(second); // a worker stopping: not the task's failure
        var third = await LeaseOfAsync(store, tenant);
        Assert.Equal((first.EntryId, 2), (third.EntryId, third.Attempt));
        await store.RetryLaterAsync(third, TimeSpan.Zero);
        Assert.Equal(3, (await LeaseOfAsync(store, tenant)).Attempt);
    }

    [Fact]
    public async Task A_failed_attempt_is_not_handed_out_again_before_its_retry_is_due()
    {
        var (store, _) = Store();
        var tenant = NewTenant();
        await store.CreateAsync(Creation(tenant, "batch_w"));
        var lease = await LeaseOfAsync(store, tenant);
        await store.RetryLaterAsync(lease, TimeSpan.FromSeconds(20));
        Assert.Empty(await DrainAsync(store, tenant));
    }

    [Fact]
    public async Task A_task_given_up_on_fails_its_batch_with_the_error_and_is_gone()
    {
        var (store, tenants) = Store();
        var tenant = NewTenant();
        await store.CreateAsync(Creation(tenant, "batch_f"));
        await store.StartAsync(tenant, "batch_f", "m", [new BatchChunk(0, 0, 2, 0)], 2, 1001);
        var chunk = (await DrainAsync(store, tenant)).Single(l => l.Kind == BatchTaskKind.RunChunk);

        var failed = await store.AbandonAsync(chunk, """[{"code":"batch_task_failed","message":"gave up","param":null,"line":null}]""", 1002);
        Assert.Equal((BatchStatus.Failed, 1002L), (failed!.Status, failed.FailedAt));
        Assert.Contains("batch_task_failed", failed.ErrorsJson, StringComparison.Ordinal);
        Assert.Equal(failed, await store.GetAsync(tenant, "batch_f"));
        Assert.Empty(await DrainAsync(store, tenant));

        // An item of it that was still running ends later: its call is booked, the batch's counts and status stay.
        var grain = tenants.GetTenant(tenant);
        await grain.SetLimitsAsync(new TenantLimits(null, null, 10, 1_000_000));
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("late", 10, 500))).IsAdmitted);
        var late = await store.EndItemAsync(tenant, "batch_f", new ItemEnd(0, ItemOutcome.Succeeded, "L", 3, 4), Booking(tenant, "late", 90), 1003);
        Assert.Equal((BatchStatus.Failed, 0L, 0L), (late.Status, late.Completed, late.Failed));
        var quota = await grain.GetQuotaAsync();
        Assert.Equal((90L, 0L, 0), (quota.SpentNanos, quota.ReservedNanos, quota.InFlight));
        Assert.Equal(BatchStatus.Failed, (await store.AbandonAsync(chunk, "[]", 1004))!.Status); // final stays final
    }

    [Fact]
    public async Task A_cancel_ends_a_batch_in_any_state()
    {
        var (store, _) = Store();
        var tenant = NewTenant();

        // Validating with its task given up on: cancelled, not failed.
        await store.CreateAsync(Creation(tenant, "batch_v"));
        Assert.Equal(BatchStatus.Cancelling, (await store.CancelAsync(tenant, "batch_v", 1001))!.Status);
        var validate = (await DrainAsync(store, tenant)).Single();
        Assert.Equal(BatchStatus.Cancelled, (await store.AbandonAsync(validate, "[]", 1002))!.Status);

        // Cancelling with no task left at all (lost): the next cancel ends it.
        await store.CreateAsync(Creation(tenant, "batch_l"));
        var lost = (await DrainAsync(store, tenant)).Single();
        Assert.Equal(BatchStatus.Cancelling, (await store.CancelAsync(tenant, "batch_l", 1003))!.Status); // its task is still leased
        await store.CompleteTaskAsync(lost);
        var ended = await store.CancelAsync(tenant, "batch_l", 1004);
        Assert.Equal((BatchStatus.Cancelled, 1004L), (ended!.Status, ended.CancelledAt));

        // Cancelled while validating, and its file is bad: cancelled all the same, the errors saying why nothing ran.
        await store.CreateAsync(Creation(tenant, "batch_x"));
        await store.CancelAsync(tenant, "batch_x", 1004);
        Assert.True(await store.FailValidationAsync(tenant, "batch_x", """[{"code":"invalid_json_line","line":1}]""", 1005));
        var bad = await store.GetAsync(tenant, "batch_x");
        Assert.Equal((BatchStatus.Cancelled, 1005L, (long?)null), (bad!.Status, bad.CancelledAt, bad.FailedAt));
        Assert.Contains("invalid_json_line", bad.ErrorsJson, StringComparison.Ordinal);

        // Finalizing: cancelling, and its finalization ends it cancelled.
        await store.CreateAsync(Creation(tenant, "batch_z"));
        await store.StartAsync(tenant, "batch_z", "m", [new BatchChunk(0, 0, 1, 0)], 1, 1005);
        Assert.Equal(BatchStatus.Finalizing, (await store.EndItemAsync(tenant, "batch_z", new ItemEnd(0, ItemOutcome.Succeeded, "L"), null, 1006)).Status);
        Assert.Equal(BatchStatus.Cancelling, (await store.CancelAsync(tenant, "batch_z", 1007))!.Status);
        Assert.True(await store.FinishAsync(tenant, "batch_z", "file-o", null, 1008));
        Assert.Equal(BatchStatus.Cancelled, (await store.GetAsync(tenant, "batch_z"))!.Status);
        foreach (var lease in await DrainAsync(store, tenant))
        {
            await store.CompleteTaskAsync(lease);
        }
    }

    [Fact]
    public async Task Leasing_skips_tenants_that_hold_their_share()
    {
        var (store, _) = Store();
        var (big, small) = (NewTenant(), NewTenant());
        for (var i = 0; i < 5; i++)
        {
            await store.CreateAsync(Creation(big, $"batch_big{i}"));
        }

        await store.CreateAsync(Creation(small, "batch_small"));
        Assert.Equal("batch_small", (await DrainAsync(store, small, busy: [big])).Single().BatchId);
        Assert.Empty(await DrainAsync(store, big, busy: [big]));
        Assert.Equal(5, (await DrainAsync(store, big)).Count);
    }
}
