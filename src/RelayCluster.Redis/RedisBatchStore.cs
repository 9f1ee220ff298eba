using System.Globalization;
using StackExchange.Redis;
using RelayCluster.Core.Batches;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Redis;

/// <summary>
/// Batch grains in the cluster. A batch's keys share its tenant's hash tag (<c>{t:acme}</c>), so one script changes a
/// batch atomically on any Redis, Cluster included. An item's end keeps its settlement in the batch's unbooked usage in
/// the same step (an outbox); the usage is then booked on the tenant grain, and whatever a worker that died in between
/// left there is booked before the batch finishes, once (settles are idempotent per request id). Each tenant's work is a Redis Stream with the consumer
/// group <c>workers</c>: a lease is a pending entry, renewed by resetting its idle time, and taken over with
/// XAUTOCLAIM once it has been idle longer than a lease. Every command is non-blocking (workers poll, and are
/// woken early by a pub/sub notice), as the shared connection requires.
/// </summary>
public sealed class RedisBatchStore(RedisConnection redis, ITenantGrainFactory tenants, TimeProvider time) : IBatchStore
{
    private const string TenantsWithWork = "relay:batch-tenants";
    public const string WorkNotice = "relay:batch-work";

    private static readonly RedisScript Create = RedisScript.Named("batch-create");
    private static readonly RedisScript Cancel = RedisScript.Named("batch-cancel");
    private static readonly RedisScript Fail = RedisScript.Named("batch-fail");
    private static readonly RedisScript Start = RedisScript.Named("batch-start");
    private static readonly RedisScript Finish = RedisScript.Named("batch-finish");
    private static readonly RedisScript Renew = RedisScript.Named("batch-renew");
    private static readonly RedisScript Lease = RedisScript.Named("batch-lease");
    private static readonly RedisScript Abandon = RedisScript.Named("batch-abandon");
    private static readonly RedisScript EndItem = RedisScript.Named("batch-end-item");

    private string[] _tenants = [];
    private long _tenantsReadAt = long.MinValue;
    private int _nextTenant;

    public async ValueTask CreateAsync(BatchCreation c)
    {
        // The hint that this tenant has work goes first: a hint without work costs a poll, work without one is never found.
        await redis.ExecuteAsync("SADD", TenantsWithWork, c.TenantId);
        RedisValue[] fields =
        [
            "id", c.Id, "tenant", c.TenantId, "endpoint", c.Endpoint, "input_file_id", c.InputFileId, "status", BatchStatus.Validating,
            "created_at", c.CreatedAt, "expires_at", c.ExpiresAt, "total", 0, "completed", 0, "failed", 0,
        ];
        if (c.MetadataJson is not null)
        {
            fields = [.. fields, "metadata", c.MetadataJson];
        }

        await redis.EvaluateAsync(Create, [Batch(c.TenantId, c.Id), Index(c.TenantId), Tasks(c.TenantId)], [c.Id, c.CreatedAt, .. fields]);
        await NotifyAsync();
    }

    // The API checks ids against BatchIds first; here an id that could name a sibling key ("batch_X:chunks") is
    // refused whoever calls.
    public async ValueTask<BatchState?> GetAsync(string tenantId, string batchId) =>
        RedisKeyParts.IsSafe(batchId) ? RedisBatchFields.Read(await redis.HashGetAllAsync(Batch(tenantId, batchId))) : null;

    public async ValueTask<BatchPage> ListAsync(string tenantId, string? after, int limit)
    {
        long start = 0;
        if (after is not null && !RedisKeyParts.IsSafe(after))
        {
            return new BatchPage([], false); // as an unknown cursor
        }

        if (after is not null)
        {
            var rank = await redis.ExecuteAsync("ZREVRANK", (string)Index(tenantId)!, after);
            if (rank.IsNull)
            {
                return new BatchPage([], false);
            }

            start = (long)rank + 1;
        }

        var ids = (RedisValue[])(await redis.ExecuteAsync("ZREVRANGE", (string)Index(tenantId)!, start, start + limit))!;
        // Read together: the multiplexer pipelines them, one round trip for the page instead of one a batch.
        var batches = await Task.WhenAll(ids.Take(limit).Select(id => GetAsync(tenantId, id!).AsTask()));
        return new BatchPage([.. batches.OfType<BatchState>()], ids.Length > limit);
    }

    public async ValueTask<BatchState?> CancelAsync(string tenantId, string batchId, long now)
    {
        if (!RedisKeyParts.IsSafe(batchId))
        {
            return null;
        }

        var result = await redis.EvaluateAsync(Cancel, [Batch(tenantId, batchId), Tasks(tenantId)], [now, batchId]);
        return result.IsNull ? null : RedisBatchFields.Read((RedisResult[])result!);
    }

    public async ValueTask<bool> FailValidationAsync(string tenantId, string batchId, string errorsJson, long now) =>
        (long)await redis.EvaluateAsync(Fail, [Batch(tenantId, batchId)], [now, errorsJson]) == 1;

    public async ValueTask<bool> StartAsync(string tenantId, string batchId, string? model, IReadOnlyList<BatchChunk> chunks, long total, long now)
    {
        RedisValue[] args = [batchId, now, model ?? "", total, .. chunks.Select(c => (RedisValue)$"{c.FirstLine}:{c.Count}:{c.Offset}")];
        var started = (long)await redis.EvaluateAsync(Start, [Batch(tenantId, batchId), Chunks(tenantId, batchId), Tasks(tenantId)], args) == 1;
        if (started)
        {
            await NotifyAsync();
        }

        return started;
    }

    public async ValueTask<BatchChunk?> GetChunkAsync(string tenantId, string batchId, int chunk)
    {
        var value = await redis.HashGetAsync(Chunks(tenantId, batchId), chunk);
        if (value.IsNull)
        {
            return null;
        }

        var parts = ((string)value!).Split(':');
        return new BatchChunk(chunk, Int(parts[0]), Int(parts[1]), long.Parse(parts[2], CultureInfo.InvariantCulture));
    }

    public async ValueTask<IReadOnlyDictionary<int, (ItemOutcome Outcome, string Owner)>> EndedItemsAsync(string tenantId, string batchId, int firstItem, int count)
    {
        var ended = new Dictionary<int, (ItemOutcome, string)>();
        const int Page = 1000;
        for (var from = firstItem; from < firstItem + count; from += Page)
        {
            var n = Math.Min(Page, firstItem + count - from);
            object[] args = [(string)Items(tenantId, batchId)!, .. Enumerable.Range(from, n).Select(i => (object)i)];
            var values = (RedisValue[])(await redis.ExecuteAsync("HMGET", args))!;
            for (var i = 0; i < values.Length; i++)
            {
                if (!values[i].IsNull)
                {
                    var value = (string)values[i]!;
                    ended[from + i] = (value[0] == 'o' ? ItemOutcome.Succeeded : ItemOutcome.Failed, value[2..]);
                }
            }
        }

        return ended;
    }

    public async ValueTask<ItemRecorded> EndItemAsync(string tenantId, string batchId, ItemEnd end, Settlement? settlement, long now)
    {
        RedisKey[] keys = [Batch(tenantId, batchId), Items(tenantId, batchId), Tasks(tenantId), Unbooked(tenantId, batchId)];
        RedisValue[] args =
        [
            end.Item, end.Outcome == ItemOutcome.Succeeded ? "o" : "e", end.Owner, end.InputTokens, end.OutputTokens,
            end.Expired ? 1 : 0, settlement is { } s ? UnbookedSettlement.Write(s) : "", batchId, now,
        ];
        var r = (RedisResult[])(await redis.EvaluateAsync(EndItem, keys, args))!;
        var recorded = new ItemRecorded((long)r[0] == 1, (string)r[1]!, (long)r[2], (long)r[3], (long)r[4]);
        if (settlement is { } booked)
        {
            var grain = tenants.GetTenant(tenantId);
            // A second end is a retry of this very end when the unbooked usage still holds its request (its settle failed
            // after the record): book it, never release it, or the reservation goes and the usage with it.
            if (recorded.First || await UnbookedRequestAsync(tenantId, batchId, end.Item) == booked.RequestId)
            {
                await grain.SettleAsync(booked);
                await redis.ExecuteAsync("HDEL", Unbooked(tenantId, batchId), end.Item);
            }
            else
            {
                await grain.ReleaseAsync(booked.RequestId);
            }
        }

        if (recorded.First && recorded.Completed + recorded.Failed == recorded.Total)
        {
            await NotifyAsync(); // its finalization was just queued
        }

        return recorded;
    }

    private async Task<string?> UnbookedRequestAsync(string tenantId, string batchId, int item) =>
        (string?)await redis.ExecuteAsync("HGET", Unbooked(tenantId, batchId), item) is { } kept ? UnbookedSettlement.Read(kept).RequestId : null;

    public async ValueTask<bool> FinishAsync(string tenantId, string batchId, string? outputFileId, string? errorFileId, long now)
    {
        // Usage a dead worker recorded but did not book is booked now, before the batch (and its unbooked usage) ends.
        var unbooked = Unbooked(tenantId, batchId);
        foreach (var entry in await redis.HashGetAllAsync(unbooked))
        {
            await tenants.GetTenant(tenantId).SettleAsync(UnbookedSettlement.Read(entry.Value!));
            await redis.ExecuteAsync("HDEL", unbooked, entry.Name);
        }

        return (long)await redis.EvaluateAsync(Finish, [Batch(tenantId, batchId), Chunks(tenantId, batchId), Items(tenantId, batchId), unbooked],
            [now, outputFileId ?? "", errorFileId ?? ""]) == 1;
    }

    public async ValueTask<BatchLease?> LeaseAsync(string worker, TimeSpan leaseTime, IReadOnlyCollection<string>? busyTenants = null)
    {
        var tenants = await TenantsAsync();
        for (var i = 0; i < tenants.Length; i++)
        {
            // Round-robin over tenants, so one tenant's big batch does not starve another's small one.
            var tenant = tenants[(int)((uint)Interlocked.Increment(ref _nextTenant) % (uint)tenants.Length)];
            if (busyTenants?.Contains(tenant) == true)
            {
                continue;
            }

            var leased = await redis.EvaluateAsync(Lease, [Tasks(tenant)], [worker, (long)leaseTime.TotalMilliseconds]);
            if (!leased.IsNull)
            {
                var entry = (RedisResult[])leased!;
                return ToLease(tenant, worker, (string)entry[0]!, (RedisValue[])entry[1]!, (int)(long)entry[2], leaseTime);
            }
        }

        return null;
    }

    public async ValueTask<bool> RenewAsync(BatchLease lease) =>
        (long)await redis.EvaluateAsync(Renew, [Tasks(lease.TenantId)], [lease.EntryId, Worker(lease), "renew"]) == 1;

    public async ValueTask CompleteTaskAsync(BatchLease lease)
    {
        await redis.StreamAcknowledgeAndDeleteAsync(Tasks(lease.TenantId), "workers", lease.EntryId);
    }

    public async ValueTask ReleaseAsync(BatchLease lease)
    {
        if ((long)await redis.EvaluateAsync(Renew, [Tasks(lease.TenantId)], [lease.EntryId, Worker(lease), "release"]) == 1)
        {
            await NotifyAsync();
        }
    }

    public async ValueTask RetryLaterAsync(BatchLease lease, TimeSpan delay)
    {
        // Claimable once idle for a lease time: set its idle time so that moment is the retry's.
        var idle = (long)Math.Max(0, (lease.LeaseTime - delay).TotalMilliseconds);
        await redis.EvaluateAsync(Renew, [Tasks(lease.TenantId)], [lease.EntryId, Worker(lease), "retry", idle]);
    }

    public async ValueTask<BatchState?> AbandonAsync(BatchLease lease, string errorsJson, long now)
    {
        RedisKey[] keys = [Tasks(lease.TenantId), Batch(lease.TenantId, lease.BatchId), Chunks(lease.TenantId, lease.BatchId), Items(lease.TenantId, lease.BatchId)];
        var result = await redis.EvaluateAsync(Abandon, keys, [lease.EntryId, now, errorsJson]);
        return result.IsNull ? null : RedisBatchFields.Read((RedisResult[])result!);
    }

    private async Task<string[]> TenantsAsync()
    {
        var now = time.GetTimestamp();
        if (time.GetElapsedTime(_tenantsReadAt, now) > TimeSpan.FromSeconds(1) || _tenantsReadAt == long.MinValue)
        {
            _tenants = [.. (await redis.SetMembersAsync(TenantsWithWork)).Select(v => (string)v!)];
            _tenantsReadAt = now;
        }

        return _tenants;
    }

    private static BatchLease ToLease(string tenant, string worker, string id, RedisValue[] fields, int attempt, TimeSpan leaseTime)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < fields.Length; i += 2)
        {
            values[(string)fields[i]!] = (string)fields[i + 1]!;
        }

        var kind = values["k"] switch
        {
            "validate" => BatchTaskKind.Validate,
            "chunk" => BatchTaskKind.RunChunk,
            _ => BatchTaskKind.Finalize,
        };
        var leaseId = worker + "." + id.Replace('-', '.') + "." + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3));
        return new BatchLease(tenant, values["b"], kind, Int(values["c"]), leaseId, id, attempt, leaseTime);
    }

    private static string Worker(BatchLease lease) => lease.LeaseId[..lease.LeaseId.IndexOf('.', StringComparison.Ordinal)];

    private async Task NotifyAsync() => await redis.PublishAsync(WorkNotice, 1);

    private static int Int(string value) => int.Parse(value, CultureInfo.InvariantCulture);

    private static RedisKey Batch(string tenantId, string batchId) => "{t:" + tenantId + "}:b:" + batchId;

    private static RedisKey Chunks(string tenantId, string batchId) => "{t:" + tenantId + "}:b:" + batchId + ":chunks";

    private static RedisKey Items(string tenantId, string batchId) => "{t:" + tenantId + "}:b:" + batchId + ":items";

    private static RedisKey Unbooked(string tenantId, string batchId) => "{t:" + tenantId + "}:b:" + batchId + ":unbooked";

    private static RedisKey Index(string tenantId) => "{t:" + tenantId + "}:batches";

    private static RedisKey Tasks(string tenantId) => "{t:" + tenantId + "}:batch-tasks";
}
