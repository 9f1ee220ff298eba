using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Files;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Batches;

/// <summary>
/// Hostile batches over real HTTP with three tenants: b's poison files (every way a line can be unreadable, and a line
/// that breaks the runner) fail on their lines, at once, and b's huge batches hold no more than b's share of the
/// workers, while a's small batch completes; a task that fails every time fails its batch after a bounded number of
/// attempts, and a cancel ends a batch whose task is stuck. Run on both stores.
/// </summary>
public abstract class PoisonBatchTests : IAsyncLifetime
{
    private const string KeyA = "sk-poison-tenant-a-7f3a9c2e5b1d";
    private const string KeyB = "sk-poison-tenant-b-7f3a9c2e5b1d";
    private const string KeyC = "sk-poison-tenant-c-7f3a9c2e5b1d";
    private const string Url = "/v1/chat/completions";

    private readonly TempDirectory _files = new();
    private readonly TempDirectory _work = new();

    private protected BatchFaults Faults { get; } = new();

    protected RelayHost Host { get; private set; } = null!;

    /// <summary>The store's settings (none for the embedded default).</summary>
    protected abstract Task<(string Key, string? Value)[]> StoreSettingsAsync();

    public virtual async Task InitializeAsync()
    {
        var store = await StoreSettingsAsync();
        Host = new RelayHost(RelayHost.SimulatorSettings(
        [
            ("Relay:Tenants:a:Keys:0", KeyA), ("Relay:Tenants:b:Keys:0", KeyB), ("Relay:Tenants:c:Keys:0", KeyC),
            ("Relay:Files:Path", _files.Path), ("Relay:Batches:WorkPath", _work.Path),
            ("Relay:Batches:MaxTaskAttempts", "3"), ("Relay:Batches:RetryBaseMs", "50"), ("Relay:Batches:LeaseSeconds", "5"),
            .. store,
        ]), replaceServices: Faults.Apply);
    }

    public virtual Task DisposeAsync()
    {
        Faults.OpenGate();
        Host.Dispose();
        _files.Dispose();
        _work.Dispose();
        return Task.CompletedTask;
    }

    private static string Line(string customId, string content, string extra = "") =>
        $$$"""{"custom_id":"{{{customId}}}","method":"POST","url":"{{{Url}}}","body":{"model":"mock-fast",{{{extra}}}"messages":[{"role":"user","content":"{{{content}}}"}]}}""";

    /// <summary>One-line files that are JSON to a lenient reader but cannot be read as a request, and what each must end as.</summary>
    private static List<(string Kind, byte[] Content)> PoisonFiles()
    {
        var rawFf = Encoding.UTF8.GetBytes(Line("raw-ff", "a#")).ToList();
        rawFf[rawFf.IndexOf((byte)'#')] = 0xFF;
        return
        [
            ("duplicate custom_id key", Encoding.UTF8.GetBytes("""{"custom_id":"dup","custom_id":"dup2","method":"POST","url":"/v1/chat/completions","body":{"model":"mock-fast","messages":[{"role":"user","content":"x"}]}}""")),
            ("duplicate body key", Encoding.UTF8.GetBytes("""{"custom_id":"dup-body","method":"POST","url":"/v1/chat/completions","body":{"model":"mock-fast","model":"mock-fast","messages":[{"role":"user","content":"x"}]}}""")),
            ("lone surrogate", Encoding.UTF8.GetBytes(Line("surrogate", "\\ud800"))),
            ("lone surrogate id", Encoding.UTF8.GetBytes(Line("\\udc00", "x"))),
            ("raw 0xFF", [.. rawFf]),
            ("max_tokens 1e400", Encoding.UTF8.GetBytes(Line("huge-float", "x", "\"max_tokens\":1e400,"))),
            ("max_tokens 2^64", Encoding.UTF8.GetBytes(Line("over-long", "x", "\"max_tokens\":18446744073709551616,"))),
        ];
    }

    [Fact]
    public async Task Poison_and_huge_batches_of_one_tenant_do_not_stall_another_tenants_batch()
    {
        using var a = Host.ClientFor(KeyA);
        using var b = Host.ClientFor(KeyB);

        // Tenant b: two huge, slow batches (more chunks than b's share of the worker slots) ...
        var slow = string.Concat(Enumerable.Range(0, 150).Select(i => Line($"slow-{i}", "[[sim ttft=3000]] slow") + "\n"));
        var huge = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            huge.Add(await CreateAsync(b, await UploadAsync(b, Encoding.UTF8.GetBytes(slow))));
        }

        // ... 15 poison one-line batches, every kind at least twice, and one whose line breaks the runner ...
        var kinds = PoisonFiles();
        var poison = new List<(string Kind, string Id)>();
        for (var i = 0; i < 14; i++)
        {
            var (kind, content) = kinds[i % kinds.Count];
            poison.Add((kind, await CreateAsync(b, await UploadAsync(b, [.. content, (byte)'\n']))));
        }

        var throwing = await CreateAsync(b, await UploadAsync(b, Encoding.UTF8.GetBytes(
            Line("breaks-runner", "x", $"\"max_tokens\":{BatchFaults.ThrowingMaxTokens},") + "\n")));

        // ... and then tenant a's small batch, which must not wait for any of them.
        var small = await CreateAsync(a, await UploadAsync(a, Encoding.UTF8.GetBytes(Line("a-1", "hello") + "\n" + Line("a-2", "there") + "\n")));
        var done = await WaitFinalAsync(a, small, TimeSpan.FromSeconds(30));
        Assert.Equal("completed", (string?)done["status"]);
        Assert.Equal((2, 0), ((int)done["request_counts"]!["completed"]!, (int)done["request_counts"]!["failed"]!));
        var output = await ContentAsync(a, (string)done["output_file_id"]!);
        Assert.Equal(["a-1", "a-2"], output.Select(l => (string)l["custom_id"]!).Order(StringComparer.Ordinal));
        foreach (var id in huge)
        {
            // a finished while b's huge batches were still running: it did not queue behind them.
            Assert.NotEqual("completed", (string?)(await GetAsync(b, id))["status"]);
        }

        // b's huge batches can still be cancelled while they run, and end cancelled below.
        foreach (var id in huge)
        {
            using var cancel = await b.PostAsync($"/v1/batches/{id}/cancel", null);
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        }

        foreach (var (kind, id) in poison)
        {
            var batch = await WaitFinalAsync(b, id, TimeSpan.FromSeconds(20));
            Assert.True((string?)batch["status"] == "failed", $"{kind}: {batch.ToJsonString()}");
            var error = batch["errors"]!["data"]![0]!;
            Assert.True((int?)error["line"] == 1 && !string.IsNullOrWhiteSpace((string?)error["message"]) && (string?)error["code"] is not null,
                $"{kind}: {error.ToJsonString()}");
        }

        // The line that broke the runner is that request's failure, in the error file, not the batch's.
        var broken = await WaitFinalAsync(b, throwing, TimeSpan.FromSeconds(20));
        Assert.Equal(("completed", 1), ((string?)broken["status"], (int)broken["request_counts"]!["failed"]!));
        var errorLine = Assert.Single(await ContentAsync(b, (string)broken["error_file_id"]!));
        Assert.Equal(("breaks-runner", "request_failed"), ((string?)errorLine["custom_id"], (string?)errorLine["error"]!["code"]));

        foreach (var id in huge)
        {
            Assert.Equal("cancelled", (string?)(await WaitFinalAsync(b, id, TimeSpan.FromSeconds(30)))["status"]);
        }

        await Host.WaitForIdleAsync("b");
    }

    [Fact]
    public async Task A_task_that_keeps_failing_fails_its_batch_and_a_cancel_ends_a_stuck_batch()
    {
        using var c = Host.ClientFor(KeyC);
        var content = Encoding.UTF8.GetBytes(Line("c-1", "fine") + "\n");

        // Its finalization throws every time: after MaxTaskAttempts (3) the batch fails, naming the task.
        var failing = await WaitFinalAsync(c, await CreateAsync(c, await UploadAsync(c, content)), TimeSpan.FromSeconds(20));
        Assert.Equal("failed", (string?)failing["status"]);
        var error = failing["errors"]!["data"]![0]!;
        Assert.Equal("batch_task_failed", (string?)error["code"]);
        Assert.Contains("3 attempts", (string?)error["message"], StringComparison.Ordinal);
        Assert.Equal(1, (int)failing["request_counts"]!["completed"]!); // its request ran and was billed

        // Stuck in finalizing (its task held at the gate): the cancel is accepted, and the batch ends cancelled.
        Faults.CloseGate();
        var stuck = await CreateAsync(c, await UploadAsync(c, content));
        await Faults.FinalizeReached.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal("finalizing", (string?)(await GetAsync(c, stuck))["status"]);
        using (var cancel = await c.PostAsync($"/v1/batches/{stuck}/cancel", null))
        {
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
            Assert.Equal("cancelling", (string?)(await cancel.Content.ReadFromJsonAsync<JsonObject>())!["status"]);
        }

        Faults.OpenGate();
        var cancelled = await WaitFinalAsync(c, stuck, TimeSpan.FromSeconds(20));
        Assert.Equal("cancelled", (string?)cancelled["status"]);
        Assert.NotNull(cancelled["cancelled_at"]);
        Assert.Null(cancelled["errors"]);
    }

    private static async Task<string> UploadAsync(HttpClient client, byte[] content)
    {
        using var response = await client.PostAsync("/v1/files", FilesHost.Upload(content, "input.jsonl", "batch"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
    }

    private static async Task<string> CreateAsync(HttpClient client, string fileId)
    {
        using var response = await client.PostAsync("/v1/batches", RelayHost.Json(new { input_file_id = fileId, endpoint = Url, completion_window = "24h" }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
    }

    private static async Task<JsonObject> GetAsync(HttpClient client, string id) => (await client.GetFromJsonAsync<JsonObject>($"/v1/batches/{id}"))!;

    private static async Task<JsonObject> WaitFinalAsync(HttpClient client, string id, TimeSpan timeout) =>
        (await Eventually.WaitAsync(() => GetAsync(client, id), b => (string?)b["status"] is "completed" or "failed" or "expired" or "cancelled", timeout))!;

    private static async Task<List<JsonObject>> ContentAsync(HttpClient client, string fileId)
    {
        var text = await client.GetStringAsync($"/v1/files/{fileId}/content");
        return [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject())];
    }
}

public sealed class MemoryPoisonBatchTests : PoisonBatchTests
{
    protected override Task<(string Key, string? Value)[]> StoreSettingsAsync() => Task.FromResult<(string, string?)[]>([]);
}

public sealed class RedisPoisonBatchTests : PoisonBatchTests
{
    private readonly RedisServer _redis = new();

    protected override async Task<(string Key, string? Value)[]> StoreSettingsAsync()
    {
        await _redis.InitializeAsync();
        return [("Relay:Store", "redis"), ("Relay:Redis", _redis.ConnectionString)];
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _redis.DisposeAsync();
    }
}
