using System.Text;
using System.Text.Json.Nodes;
using RelayCluster.Core.Batches;
using RelayCluster.Core.Streams;
using RelayCluster.Core.Tenants;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Batches;

/// <summary>
/// The steps the batch grain suites share: uploads, creates as the HTTP API makes them, polling that checks no count ever
/// goes backwards, and the result files and spend read back. Calls go through the live silos in turn.
/// </summary>
public abstract class BatchGrainSteps(BatchGrainCluster cluster)
{
    protected const string Endpoint = "/v1/chat/completions";

    protected BatchGrainCluster Cluster => cluster;

    private int _next;

    /// <summary>The silo the next call goes through (round robin).</summary>
    protected int NextSilo() => Interlocked.Increment(ref _next) % cluster.Cluster.Silos.Count;

    protected IGrainFactory Grains(int silo) =>
        Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<IGrainFactory>(cluster.Services(silo));

    protected static string NewTenant() => "bg-" + Guid.NewGuid().ToString("N")[..12];

    protected static long Now() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    protected static string Line(string customId, string url = Endpoint) =>
        $$$"""{"custom_id":"{{{customId}}}","method":"POST","url":"{{{url}}}","body":{"model":"m","messages":[{"role":"user","content":"hi {{{customId}}}"}]}}""";

    protected static string[] CustomIds(int count, string prefix = "c") => [.. Enumerable.Range(0, count).Select(i => $"{prefix}-{i}")];

    protected async Task<string> UploadAsync(string tenant, IEnumerable<string> lines)
    {
        using var content = new MemoryStream(Encoding.UTF8.GetBytes(string.Concat(lines.Select(l => l + "\n"))));
        return (await cluster.Files.SaveAsync(tenant, "input.jsonl", "batch", content, null, long.MaxValue, CancellationToken.None)).Id;
    }

    /// <summary>Creates a batch as <c>POST /v1/batches</c> does: its progress channel opened first, then the grains.</summary>
    protected async Task<string> CreateAsync(string tenant, string fileId, long? expiresAt = null, string? id = null, int silo = -1)
    {
        id ??= BatchIds.New();
        silo = silo < 0 ? NextSilo() : silo;
        var now = Now();
        await cluster.Progress(silo).OpenAsync(tenant, id);
        await cluster.Batches(silo).CreateAsync(new BatchCreation(id, tenant, Endpoint, fileId, """{"job":"nightly"}""", now, expiresAt ?? now + 86_400));
        return id;
    }

    /// <summary>A tenant whose limits leave the batch room, so every admission passes.</summary>
    protected async Task<string> TenantAsync()
    {
        var tenant = NewTenant();
        await cluster.Tenants(NextSilo()).GetTenant(tenant).SetLimitsAsync(new TenantLimits(null, null, 1_000, 1_000_000_000_000));
        return tenant;
    }

    /// <summary>
    /// Polls the batch through the silos in turn until it is final, checking on every answer that no count went backwards
    /// (a silo being declared dead answers 503 for a while: that is no answer, not a step back).
    /// </summary>
    protected async Task<(BatchState Final, List<BatchState> Seen)> WaitFinalAsync(string tenant, string id, TimeSpan? timeout = null)
    {
        var seen = new List<BatchState>();
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(40));
        while (true)
        {
            try
            {
                var batch = await cluster.Batches(NextSilo()).GetAsync(tenant, id);
                Assert.True(batch is not null, $"batch {id} vanished after {seen.Count} answers");
                if (seen.Count > 0)
                {
                    AssertNotBackwards(seen[^1], batch);
                }

                seen.Add(batch);
                if (BatchStatus.IsFinal(batch.Status))
                {
                    return (batch, seen);
                }
            }
            catch (StoreUnavailableException) when (DateTime.UtcNow < deadline)
            {
            }

            Assert.True(DateTime.UtcNow < deadline,
                $"batch {id} not final after {timeout ?? TimeSpan.FromSeconds(40)}: last seen {Describe(seen.LastOrDefault())}\n{cluster.RelayLog()}");
            await Task.Delay(50);
        }
    }

    protected static void AssertNotBackwards(BatchState before, BatchState after)
    {
        Assert.True(after.Completed >= before.Completed && after.Failed >= before.Failed && after.ExpiredItems >= before.ExpiredItems
            && after.InputTokens >= before.InputTokens && after.OutputTokens >= before.OutputTokens,
            $"counts went backwards: {Describe(before)} then {Describe(after)}");
        Assert.True(Rank(after.Status) >= Rank(before.Status), $"status went backwards: {before.Status} then {after.Status}");
    }

    private static int Rank(string status) => status switch
    {
        BatchStatus.Validating => 0,
        BatchStatus.InProgress => 1,
        BatchStatus.Finalizing or BatchStatus.Cancelling => 2,
        _ => 3,
    };

    protected static string Describe(BatchState? b) =>
        b is null ? "nothing" : $"{b.Status} total={b.Total} completed={b.Completed} failed={b.Failed} expired={b.ExpiredItems} errors={b.ErrorsJson}";

    /// <summary>Polls until the batch is in a status (or final), through the silos in turn.</summary>
    protected async Task<BatchState> WaitStatusAsync(string tenant, string id, Func<BatchState, bool> done, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        BatchState? last = null;
        while (true)
        {
            try
            {
                last = await cluster.Batches(NextSilo()).GetAsync(tenant, id);
                if (last is not null && done(last))
                {
                    return last;
                }
            }
            catch (StoreUnavailableException) when (DateTime.UtcNow < deadline)
            {
            }

            Assert.True(DateTime.UtcNow < deadline, $"batch {id}: condition not reached; last seen {Describe(last)}\n{cluster.RelayLog()}");
            await Task.Delay(25);
        }
    }

    /// <summary>The lines of a result file, read through the file store (none if the batch made no such file).</summary>
    protected async Task<List<JsonObject>> LinesAsync(string tenant, string? fileId)
    {
        if (fileId is null)
        {
            return [];
        }

        await using var content = await cluster.Files.OpenReadAsync(tenant, fileId);
        Assert.NotNull(content);
        using var reader = new StreamReader(content);
        var lines = new List<JsonObject>();
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.Length > 0)
            {
                lines.Add(JsonNode.Parse(line)!.AsObject());
            }
        }

        return lines;
    }

    /// <summary>Both result files' lines, checked to name every custom_id of the input exactly once.</summary>
    protected async Task<(List<JsonObject> Output, List<JsonObject> Errors)> ResultsAsync(string tenant, BatchState batch, IReadOnlyCollection<string> customIds)
    {
        var output = await LinesAsync(tenant, batch.OutputFileId);
        var errors = await LinesAsync(tenant, batch.ErrorFileId);
        var named = output.Concat(errors).Select(l => (string)l["custom_id"]!).ToList();
        var twice = named.GroupBy(n => n, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(twice.Count == 0, $"custom_ids in the result files more than once: {string.Join(", ", twice)}");
        var missing = customIds.Except(named, StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0, $"custom_ids in neither result file: {string.Join(", ", missing.Take(20))} ({missing.Count})");
        Assert.Equal(customIds.Count, named.Count);
        Assert.Equal((batch.Completed, batch.Failed), ((long)output.Count, (long)errors.Count));
        return (output, errors);
    }

    /// <summary>What the lines that got an upstream answer cost: the spend the tenant must have been booked, exactly.</summary>
    protected static long Billed(IEnumerable<JsonObject> lines) =>
        lines.Where(l => l["response"] is JsonObject).Sum(l => FakeUpstream.CostOf((string)l["custom_id"]!));

    protected static string? ErrorCode(JsonObject line) => (string?)line["error"]?["code"];

    /// <summary>The tenant's spend, once nothing is reserved any more (every admission settled or released).</summary>
    protected async Task<QuotaSnapshot> SettledQuotaAsync(string tenant)
    {
        var quota = await Eventually.WaitAsync(async () => await cluster.Tenants(NextSilo()).GetTenant(tenant).GetQuotaAsync(),
            q => q.ReservedNanos == 0 && q.InFlight == 0, TimeSpan.FromSeconds(15));
        Assert.True(quota is { ReservedNanos: 0, InFlight: 0 }, $"admissions still open: {quota}");
        return quota;
    }

    /// <summary>A final batch's work files (plan, parts, chunk results on the shared volume) are gone once its chunks are.</summary>
    protected async Task AssertNoWorkFilesAsync(string tenant, string id)
    {
        var directory = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions
            .GetRequiredService<Silo.Batches.PartFiles>(Cluster.Services(0)).BatchDirectory(tenant, id);
        var left = await Eventually.WaitAsync(
            () => Task.FromResult(Directory.Exists(directory) ? Directory.GetFiles(directory).Select(Path.GetFileName).ToArray() : []),
            files => files.Length == 0 && !Directory.Exists(directory), TimeSpan.FromSeconds(5));
        Assert.False(Directory.Exists(directory), $"batch {id} ended but left its work directory with [{string.Join(", ", left ?? [])}]");
    }

    /// <summary>Holds for the whole window (a negative: something must not happen), failing as soon as it does not.</summary>
    protected static async Task AssertStaysAsync(Func<Task<bool>> holds, TimeSpan window, string what)
    {
        var end = DateTime.UtcNow + window;
        do
        {
            Assert.True(await holds(), what);
            await Task.Delay(50);
        }
        while (DateTime.UtcNow < end);
    }
}

/// <summary>
/// What the batch grains must do, on an in-process cluster of three silos, with each store's providers: the status
/// machine from create to a final status, every custom_id exactly once in the result files, every billed item booked
/// exactly once on the tenant grain, counts that never go backwards, cancel and expiry per item, a chunk that keeps
/// failing, and a purged tenant. Calls go through the silos in turn, as the HTTP API of each relay makes them.
/// </summary>
public abstract partial class BatchGrainContract(BatchGrainCluster cluster) : BatchGrainSteps(cluster)
{
    [Fact]
    public async Task A_batch_validates_runs_its_chunks_across_the_silos_and_completes_with_every_item_once_and_booked_once()
    {
        var tenant = await TenantAsync();
        var ids = CustomIds(23);
        var upstream = Cluster.Upstream.For(tenant);
        upstream.Failing.UnionWith(["c-3", "c-17"]);
        var file = await UploadAsync(tenant, ids.Select(c => Line(c)));
        var id = await CreateAsync(tenant, file);

        var created = await Cluster.Batches(NextSilo()).GetAsync(tenant, id);
        Assert.NotNull(created);
        Assert.Equal((id, tenant, file, """{"job":"nightly"}"""), (created.Id, created.TenantId, created.InputFileId, created.MetadataJson));
        Assert.Contains(created.Status, new[] { BatchStatus.Validating, BatchStatus.InProgress, BatchStatus.Finalizing, BatchStatus.Completed });

        var (done, seen) = await WaitFinalAsync(tenant, id);
        Assert.Equal(BatchStatus.Completed, done.Status);
        Assert.Equal((23L, 21L, 2L, 0L), (done.Total, done.Completed, done.Failed, done.ExpiredItems));
        Assert.Equal((5, "m"), (done.Chunks, done.Model));
        Assert.Equal((23L * 3, 23L * 4), (done.InputTokens, done.OutputTokens));
        Assert.True(done.InProgressAt is not null && done.FinalizingAt is not null && done.CompletedAt is not null, Describe(done));
        Assert.True(done.CreatedAt <= done.InProgressAt && done.InProgressAt <= done.FinalizingAt && done.FinalizingAt <= done.CompletedAt);
        Assert.Contains(seen, b => b.Status == BatchStatus.InProgress || b.Status == BatchStatus.Finalizing || b.Status == BatchStatus.Validating);

        var (output, errors) = await ResultsAsync(tenant, done, ids);
        Assert.All(output, l => Assert.Equal(200, (int)l["response"]!["status_code"]!));
        Assert.Equal(["c-17", "c-3"], errors.Select(l => (string)l["custom_id"]!).Order(StringComparer.Ordinal));
        Assert.All(errors, l => Assert.Equal(400, (int)l["response"]!["status_code"]!));
        Assert.Equal(23, upstream.Started); // each item called once

        // Every item that reached the upstream (the errors too) is booked once: the spend is exactly their usage.
        var quota = await SettledQuotaAsync(tenant);
        Assert.Equal(Billed(output.Concat(errors)), quota.SpentNanos);

        // The same batch through every silo; a final batch's cancel changes nothing.
        for (var silo = 0; silo < Cluster.Cluster.Silos.Count; silo++)
        {
            Assert.Equal(done, await Cluster.Batches(silo).GetAsync(tenant, id));
        }

        Assert.Equal(done, await Cluster.Batches(NextSilo()).CancelAsync(tenant, id, Now()));
        Assert.Equal(done, await Cluster.Batches(NextSilo()).GetAsync(tenant, id));
        await AssertNoWorkFilesAsync(tenant, id);

        // Another tenant cannot see or cancel it.
        var other = NewTenant();
        Assert.Null(await Cluster.Batches(NextSilo()).GetAsync(other, id));
        Assert.Null(await Cluster.Batches(NextSilo()).CancelAsync(other, id, Now()));
        Assert.Empty((await Cluster.Batches(NextSilo()).ListAsync(other, null, 10)).Batches);
    }

    [Fact]
    public async Task An_item_whose_settle_failed_is_booked_later_exactly_once()
    {
        var tenant = await TenantAsync();
        var upstream = Cluster.Upstream.For(tenant);
        upstream.SettleFailsOnce.UnionWith(["c-1", "c-6", "c-8"]);
        var thrown = Cluster.Settles.Thrown;
        var ids = CustomIds(10);
        var id = await CreateAsync(tenant, await UploadAsync(tenant, ids.Select(c => Line(c))));

        var (done, _) = await WaitFinalAsync(tenant, id);
        Assert.Equal((BatchStatus.Completed, 10L), (done.Status, done.Completed));
        var (output, _) = await ResultsAsync(tenant, done, ids);
        Assert.Equal(10, upstream.Started);
        Assert.Equal(thrown + 3, Cluster.Settles.Thrown); // the three first settles failed
        var quota = await SettledQuotaAsync(tenant); // nothing released unbooked: no reservation left
        Assert.Equal(Billed(output), quota.SpentNanos);
    }

    [Fact]
    public async Task Listing_is_newest_first_with_a_cursor_and_per_tenant()
    {
        var tenant = await TenantAsync();
        var file = await UploadAsync(tenant, [Line("only")]);
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add(await CreateAsync(tenant, file));
        }

        var other = await TenantAsync();
        var otherId = await CreateAsync(other, await UploadAsync(other, [Line("x")]));

        var first = await Cluster.Batches(NextSilo()).ListAsync(tenant, null, 2);
        Assert.Equal([ids[4], ids[3]], first.Batches.Select(b => b.Id));
        Assert.True(first.HasMore);
        var middle = await Cluster.Batches(NextSilo()).ListAsync(tenant, ids[3], 2);
        Assert.Equal([ids[2], ids[1]], middle.Batches.Select(b => b.Id));
        Assert.True(middle.HasMore);
        var last = await Cluster.Batches(NextSilo()).ListAsync(tenant, ids[1], 2);
        Assert.Equal([ids[0]], last.Batches.Select(b => b.Id));
        Assert.False(last.HasMore);
        var unknown = await Cluster.Batches(NextSilo()).ListAsync(tenant, BatchIds.New(), 2); // an unknown cursor: an empty page
        Assert.Equal((0, false), (unknown.Batches.Count, unknown.HasMore));
        Assert.Equal([otherId], (await Cluster.Batches(NextSilo()).ListAsync(other, null, 10)).Batches.Select(b => b.Id));
        Assert.Null(await Cluster.Batches(NextSilo()).GetAsync(tenant, otherId));

        // A second create of the same id (a retried call) changes nothing.
        var again = await Cluster.Batches(NextSilo()).GetAsync(tenant, ids[0]);
        await Grains(NextSilo()).GetGrain<Silo.Batches.IBatchActor>(ids[0]).CreateAsync(new BatchCreation(ids[0], tenant, Endpoint, file, null, Now(), Now() + 10));
        Assert.Equal(again!.ExpiresAt, (await Cluster.Batches(NextSilo()).GetAsync(tenant, ids[0]))!.ExpiresAt);
        foreach (var id in ids.Append(otherId))
        {
            await WaitFinalAsync(id == otherId ? other : tenant, id);
        }
    }

    [Fact]
    public async Task A_bad_input_file_fails_with_an_error_naming_every_bad_line_and_a_lost_one_fails_as_invalid_file()
    {
        var tenant = await TenantAsync();
        var file = await UploadAsync(tenant,
        [
            Line("ok-1"),
            """{"custom_id":"broken" """,
            """{"method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[{"role":"user","content":"x"}]}}""",
            Line("ok-1"),
            Line("wrong-url", "/v1/embeddings"),
            Line("ok-2"),
        ]);
        var id = await CreateAsync(tenant, file);
        var (failed, _) = await WaitFinalAsync(tenant, id);
        Assert.Equal(BatchStatus.Failed, failed.Status);
        Assert.NotNull(failed.FailedAt);
        Assert.Null(failed.InProgressAt);
        var errors = JsonNode.Parse(failed.ErrorsJson!)!.AsArray();
        Assert.Equal(
            [(2, "invalid_json_line"), (3, "missing_custom_id"), (4, "duplicate_custom_id"), (5, "mismatched_url")],
            errors.Select(e => ((int)e!["line"]!, (string)e["code"]!)));
        Assert.Equal(0, Cluster.Upstream.For(tenant).Started);

        var lost = await UploadAsync(tenant, [Line("gone")]);
        Assert.True(await Cluster.Files.DeleteAsync(tenant, lost));
        var gone = await CreateAsync(tenant, lost);
        var (invalid, _) = await WaitFinalAsync(tenant, gone);
        Assert.Equal(BatchStatus.Failed, invalid.Status);
        var error = Assert.Single(JsonNode.Parse(invalid.ErrorsJson!)!.AsArray());
        Assert.Equal(("invalid_file", "input_file_id"), ((string?)error!["code"], (string?)error["param"]));
    }

    [Fact]
    public async Task The_batch_channel_carries_counts_that_never_go_backwards_and_ends_with_the_final_batch()
    {
        var tenant = await TenantAsync();
        Cluster.Upstream.For(tenant).Delay = TimeSpan.FromMilliseconds(60);
        var ids = CustomIds(30);
        var id = await CreateAsync(tenant, await UploadAsync(tenant, ids.Select(c => Line(c))));
        var (done, _) = await WaitFinalAsync(tenant, id);
        Assert.Equal(BatchStatus.Completed, done.Status);

        var channel = Cluster.Channels(NextSilo()).GetChannel(StreamIds.ForBatch(id));
        Assert.Equal(tenant, await channel.OwnerAsync());
        var entries = await channel.ReadAsync(0, 10_000);
        Assert.NotEmpty(entries);
        Assert.True(entries.Count(e => e.Kind == StreamEntryKind.Progress) >= 2, $"progress entries: {entries.Count}");
        var ended = -1L;
        foreach (var entry in entries)
        {
            var batch = JsonNode.Parse(entry.Data)!;
            Assert.Equal(id, (string?)batch["id"]);
            var counts = batch["request_counts"]!;
            var now = (long)counts["completed"]! + (long)counts["failed"]!;
            Assert.True(now >= ended, $"entry {entry.Sequence} went back from {ended} to {now} ended items");
            ended = now;
        }

        var last = entries[^1];
        Assert.Equal(StreamEntryKind.Completed, last.Kind);
        Assert.Single(entries, e => e.IsTerminal);
        var final = JsonNode.Parse(last.Data)!;
        Assert.Equal(("completed", done.OutputFileId), ((string?)final["status"], (string?)final["output_file_id"]));
        Assert.Equal((30L, 30L, 0L), ((long)final["request_counts"]!["total"]!, (long)final["request_counts"]!["completed"]!, (long)final["request_counts"]!["failed"]!));
    }
}

/// <summary>The contract on the embedded default's providers (grain state and reminders in memory).</summary>
[Collection(BatchGrainCollection.Name)]
public sealed class MemoryBatchGrainTests(MemoryBatchGrainCluster cluster) : BatchGrainContract(cluster), IClassFixture<MemoryBatchGrainCluster>;

/// <summary>The contract on the cluster's providers (grain state, reminders and tenant journal on a real Redis).</summary>
[Collection(BatchGrainCollection.Name)]
public sealed class RedisBatchGrainTests(RedisBatchGrainCluster cluster) : BatchGrainContract(cluster), IClassFixture<RedisBatchGrainCluster>;

/// <summary>The batch grain suites run one at a time: each is a cluster of three silos on a machine of two cores.</summary>
[CollectionDefinition(Name)]
public sealed class BatchGrainCollection
{
    public const string Name = "batch-grains";
}
