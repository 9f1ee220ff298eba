using RelayCluster.Core.Batches;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Batches;

/// <summary>What every batch store must do, run against memory and Redis: the status machine, the task queue,
/// and an item's end recorded and booked exactly once.</summary>
public abstract partial class BatchStoreContract
{
    protected ManualClock Clock { get; } = new(new DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.Zero));

    protected TenantStoreOptions TenantOptions { get; } = new(60_000);

    /// <summary>A fresh store with its tenant grains, sharing state with any other store this test makes (two silos).</summary>
    protected abstract (IBatchStore Batches, ITenantGrainFactory Tenants) Store();

    /// <summary>Settles that fail once before reaching the grain; every store under test books through these.</summary>
    protected SettleFaults Faults { get; } = new();

    protected static string NewTenant() => "bt-" + Guid.NewGuid().ToString("N")[..12];

    private static BatchCreation Creation(string tenant, string id, long created = 1000) =>
        new(id, tenant, "/v1/chat/completions", "file-x", """{"job":"nightly"}""", created, created + 86_400);

    private async Task<BatchLease> LeaseAsync(IBatchStore store, string worker = "w1")
    {
        for (var i = 0; i < 50; i++)
        {
            if (await store.LeaseAsync(worker, TimeSpan.FromSeconds(30)) is { } lease)
            {
                return lease;
            }
        }

        throw new InvalidOperationException("No task was queued.");
    }

    /// <summary>Leases tasks until one of <paramref name="tenant"/> comes (other tests' tasks are given back).</summary>
    private async Task<BatchLease> LeaseOfAsync(IBatchStore store, string tenant, string worker = "w1")
    {
        var others = new List<BatchLease>();
        try
        {
            while (true)
            {
                var lease = await LeaseAsync(store, worker);
                if (lease.TenantId == tenant)
                {
                    return lease;
                }

                others.Add(lease);
            }
        }
        finally
        {
            foreach (var other in others)
            {
                await store.ReleaseAsync(other);
            }
        }
    }

    private Settlement Booking(string tenant, string requestId, long cost) => new(new UsageRecord
    {
        TimestampMs = Clock.GetUtcNow().ToUnixTimeMilliseconds(), Tenant = tenant, RequestId = requestId, Endpoint = "/v1/chat/completions",
        Model = "m", UpstreamModel = "m", Provider = "p", PromptTokens = 3, CompletionTokens = 4, CostNanos = cost, Ending = Endings.Completed, Status = 200,
    });

    [Fact]
    public async Task A_batch_validates_runs_its_chunks_and_finalizes_once_every_item_ended()
    {
        var (store, _) = Store();
        var tenant = NewTenant();
        await store.CreateAsync(Creation(tenant, "batch_a"));
        var created = await store.GetAsync(tenant, "batch_a");
        Assert.Equal((BatchStatus.Validating, """{"job":"nightly"}"""), (created!.Status, created.MetadataJson));

        var validate = await LeaseOfAsync(store, tenant);
        Assert.Equal((BatchTaskKind.Validate, "batch_a"), (validate.Kind, validate.BatchId));
        Assert.True(await store.StartAsync(tenant, "batch_a", "m", [new BatchChunk(0, 0, 2, 0), new BatchChunk(1, 2, 1, 77)], 3, 1001));
        Assert.False(await store.StartAsync(tenant, "batch_a", "m", [new BatchChunk(0, 0, 3, 0)], 3, 1002)); // once only
        await store.CompleteTaskAsync(validate);

        var chunks = new[] { await LeaseOfAsync(store, tenant), await LeaseOfAsync(store, tenant) };
        Assert.All(chunks, c => Assert.Equal(BatchTaskKind.RunChunk, c.Kind));
        Assert.Equal(new BatchChunk(1, 2, 1, 77), await store.GetChunkAsync(tenant, "batch_a", 1));

        var first = await store.EndItemAsync(tenant, "batch_a", new ItemEnd(0, ItemOutcome.Succeeded, "L1", 3, 4), null, 1003);
        Assert.Equal(new ItemRecorded(true, BatchStatus.InProgress, 1, 0, 3), first);
        await store.EndItemAsync(tenant, "batch_a", new ItemEnd(1, ItemOutcome.Failed, "L1"), null, 1003);
        var last = await store.EndItemAsync(tenant, "batch_a", new ItemEnd(2, ItemOutcome.Succeeded, "L2", 5, 6), null, 1004);
        Assert.Equal(new ItemRecorded(true, BatchStatus.Finalizing, 2, 1, 3), last);

        var finalize = await LeaseOfAsync(store, tenant);
        Assert.Equal(BatchTaskKind.Finalize, finalize.Kind);
        Assert.True(await store.FinishAsync(tenant, "batch_a", "file-out", "file-err", 1005));
        Assert.False(await store.FinishAsync(tenant, "batch_a", "file-out2", null, 1006));

        var done = await store.GetAsync(tenant, "batch_a");
        Assert.Equal((BatchStatus.Completed, 1005L, "file-out", "file-err"), (done!.Status, done.CompletedAt, done.OutputFileId, done.ErrorFileId));
        Assert.Equal((3L, 2L, 1L, 8L, 10L, "m"), (done.Total, done.Completed, done.Failed, done.InputTokens, done.OutputTokens, done.Model));
        Assert.Equal((1001L, 1004L), (done.InProgressAt, done.FinalizingAt));
        Assert.Empty(await store.EndedItemsAsync(tenant, "batch_a", 0, 3)); // per-item records go once the batch is done
    }

    [Fact]
    public async Task An_item_ends_once_and_a_second_end_books_nothing_but_frees_its_reservation()
    {
        var (store, tenants) = Store();
        var tenant = NewTenant();
        var grain = tenants.GetTenant(tenant);
        await grain.SetLimitsAsync(new TenantLimits(null, null, 10, 1_000_000));
        await store.CreateAsync(Creation(tenant, "batch_b"));
        await store.StartAsync(tenant, "batch_b", "m", [new BatchChunk(0, 0, 2, 0)], 2, 1001);

        // Two workers ran item 0 (the first one's lease was taken over); each was admitted.
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("i0-a", 10, 500))).IsAdmitted);
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("i0-b", 10, 500))).IsAdmitted);
        var a = await store.EndItemAsync(tenant, "batch_b", new ItemEnd(0, ItemOutcome.Succeeded, "A", 3, 4), Booking(tenant, "i0-a", 120), 1002);
        var b = await store.EndItemAsync(tenant, "batch_b", new ItemEnd(0, ItemOutcome.Succeeded, "B", 3, 4), Booking(tenant, "i0-b", 120), 1002);

        Assert.True(a.First);
        Assert.False(b.First);
        Assert.Equal(1, b.Completed);
        var quota = await grain.GetQuotaAsync();
        Assert.Equal((120L, 0L, 0), (quota.SpentNanos, quota.ReservedNanos, quota.InFlight));
        Assert.Equal("A", (await store.EndedItemsAsync(tenant, "batch_b", 0, 2))[0].Owner);
        Assert.False((await store.EndedItemsAsync(tenant, "batch_b", 0, 2)).ContainsKey(1));
    }

    [Fact]
    public async Task An_item_end_retried_after_its_settle_failed_books_the_usage_once_and_never_releases_it_unbooked()
    {
        var (store, tenants) = Store();
        var tenant = NewTenant();
        var grain = tenants.GetTenant(tenant);
        await grain.SetLimitsAsync(new TenantLimits(null, null, 10, 1_000_000));
        await store.CreateAsync(Creation(tenant, "batch_r"));
        await store.StartAsync(tenant, "batch_r", "m", [new BatchChunk(0, 0, 1, 0)], 1, 1001);
        Assert.True((await grain.AdmitAsync(new AdmissionRequest("i0", 10, 500))).IsAdmitted);

        // The end is recorded, then the settle fails (the grain's commit did not happen): the worker retries the end,
        // as BatchItemRunner does on StoreUnavailableException, with the same settlement.
        Faults.FailNextSettle("i0");
        var end = new ItemEnd(0, ItemOutcome.Succeeded, "L", 3, 4);
        await Assert.ThrowsAsync<StoreUnavailableException>(async () => await store.EndItemAsync(tenant, "batch_r", end, Booking(tenant, "i0", 120), 1002));
        var retried = await store.EndItemAsync(tenant, "batch_r", end, Booking(tenant, "i0", 120), 1002);
        Assert.Equal(1, retried.Completed);
        Assert.True(await store.FinishAsync(tenant, "batch_r", "file-o", null, 1003));

        var quota = await grain.GetQuotaAsync();
        Assert.Equal((120L, 0L, 0), (quota.SpentNanos, quota.ReservedNanos, quota.InFlight));
        Assert.False(await grain.SettleAsync(Booking(tenant, "i0", 120))); // booked exactly once
    }

    [Fact]
    public async Task Cancelling_ends_cancelled_once_the_items_have_ended_and_a_bad_file_fails_the_batch()
    {
        var (store, _) = Store();
        var tenant = NewTenant();
        await store.CreateAsync(Creation(tenant, "batch_c"));
        await store.StartAsync(tenant, "batch_c", "m", [new BatchChunk(0, 0, 1, 0)], 1, 1001);

        var cancelling = await store.CancelAsync(tenant, "batch_c", 1002);
        Assert.Equal((BatchStatus.Cancelling, 1002L), (cancelling!.Status, cancelling.CancellingAt));
        var ended = await store.EndItemAsync(tenant, "batch_c", new ItemEnd(0, ItemOutcome.Failed, "L"), null, 1003);
        Assert.Equal(BatchStatus.Cancelling, ended.Status);
        Assert.True(await store.FinishAsync(tenant, "batch_c", null, "file-err", 1004));
        Assert.Equal((BatchStatus.Cancelled, 1004L), ((await store.GetAsync(tenant, "batch_c"))!.Status, (await store.GetAsync(tenant, "batch_c"))!.CancelledAt));
        Assert.Equal(BatchStatus.Cancelled, (await store.CancelAsync(tenant, "batch_c", 1005))!.Status); // final stays final
        Assert.Null(await store.CancelAsync(tenant, "batch_nope", 1005));

        await store.CreateAsync(Creation(tenant, "batch_d"));
        Assert.True(await store.FailValidationAsync(tenant, "batch_d", """[{"code":"invalid_json","line":2}]""", 1006));
        var failed = await store.GetAsync(tenant, "batch_d");
        Assert.Equal((BatchStatus.Failed, 1006L), (failed!.Status, failed.FailedAt));
        Assert.Contains("invalid_json", failed.ErrorsJson, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_expired_item_makes_the_batch_end_expired()
    {
        var (store, _) = Store();
        var tenant = NewTenant();
        await store.CreateAsync(Creation(tenant, "batch_e"));
        await store.StartAsync(tenant, "batch_e", "m", [new BatchChunk(0, 0, 2, 0)], 2, 1001);
        await store.EndItemAsync(tenant, "batch_e", new ItemEnd(0, ItemOutcome.Succeeded, "L"), null, 1002);
        await store.EndItemAsync(tenant, "batch_e", new ItemEnd(1, ItemOutcome.Failed, "L", Expired: true), null, 1003);
        Assert.True(await store.FinishAsync(tenant, "batch_e", "file-o", "file-e", 1004));
        var batch = await store.GetAsync(tenant, "batch_e");
        Assert.Equal((BatchStatus.Expired, 1004L, 1L, 1L), (batch!.Status, batch.ExpiredAt, batch.Completed, batch.Failed));
    }

    [Fact]
    public async Task Listing_is_newest_first_with_a_cursor_and_per_tenant()
    {
        var (store, _) = Store();
        var tenant = NewTenant();
        for (var i = 0; i < 5; i++)
        {
            await store.CreateAsync(Creation(tenant, $"batch_{i}", created: 1000 + i));
        }

        await store.CreateAsync(Creation(NewTenant(), "batch_other"));
        var first = await store.ListAsync(tenant, null, 2);
        Assert.Equal(["batch_4", "batch_3"], first.Batches.Select(b => b.Id));
        Assert.True(first.HasMore);
        var last = await store.ListAsync(tenant, "batch_1", 2);
        Assert.Equal(["batch_0"], last.Batches.Select(b => b.Id));
        Assert.False(last.HasMore);
        Assert.Null(await store.GetAsync(tenant, "batch_other"));
    }

    [Fact]
    public async Task A_released_task_is_handed_out_again()
    {
        var (store, _) = Store();
        var tenant = NewTenant();
        await store.CreateAsync(Creation(tenant, "batch_r"));
        var lease = await LeaseOfAsync(store, tenant);
        await store.ReleaseAsync(lease);
        var again = await LeaseOfAsync(store, tenant, "w2");
        Assert.Equal((lease.BatchId, lease.Kind), (again.BatchId, again.Kind));
        Assert.NotEqual(lease.LeaseId, again.LeaseId);
        await store.CompleteTaskAsync(again);
    }
}
