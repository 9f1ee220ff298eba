using System.Text.Json.Nodes;
using RelayCluster.Core.Wire;
using RelayCluster.Tests.Files;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Metering;

/// <summary>
/// Usage as upstreams report it, through the relay to the ledger, the admin usage API and the tenant's spend: output
/// is billed as max(completion, total − prompt), cached prompt tokens at the cached-input price, and the details are
/// kept. Every variant is sent plain and streamed to a fake upstream that reports exactly the usage under test.
/// </summary>
public sealed class UsageNormalisationTests : IAsyncLifetime
{
    private const string Key = "sk-usage-key";

    // Nanos a token: $2, $0.5 cached and $8 per million tokens.
    private const long Input = 2000;
    private const long Cached = 500;
    private const long Output = 8000;

    private readonly TempDirectory _files = new();
    private readonly TempDirectory _work = new();
    private ScriptedUpstream _upstream = null!;
    private RelayHost _host = null!;

    public async Task InitializeAsync()
    {
        // The usage to report travels in the request itself (the user message), so each call picks its variant.
        _upstream = await ScriptedUpstream.ReportingUsageAsync(body => (JsonObject)JsonNode.Parse((string)body["messages"]![0]!["content"]!)!);
        _host = new RelayHost(RelayHost.SimulatorSettings(
            ("Relay:Providers:fake:Type", "openai"),
            ("Relay:Providers:fake:BaseUrl", _upstream.BaseUrl),
            ("Relay:Providers:fake:ApiKey", "k"),
            ("Relay:Models:priced:Provider", "fake"),
            ("Relay:Models:priced:InputPerMTok", "2"),
            ("Relay:Models:priced:CachedInputPerMTok", "0.5"),
            ("Relay:Models:priced:OutputPerMTok", "8"),
            ("Relay:Models:uncached:Provider", "fake"),
            ("Relay:Models:uncached:InputPerMTok", "2"),
            ("Relay:Models:uncached:OutputPerMTok", "8"),
            ("Relay:Tenants:t1:Keys:0", Key),
            ("Relay:Tenants:t1:MonthlyBudgetUsd", "100"),
            ("Relay:Files:Path", _files.Path),
            ("Relay:Batches:WorkPath", _work.Path)));
    }

    public async Task DisposeAsync()
    {
        _host.Dispose();
        await _upstream.DisposeAsync();
        _files.Dispose();
        _work.Dispose();
    }

    public static TheoryData<string, bool, string, long, long, long> Variants() => new()
    {
        // Reasoning counted outside completion_tokens (the report): 1,002 output tokens billed, not 2.
        { "priced", false, """{"prompt_tokens":10,"completion_tokens":2,"total_tokens":1012,"completion_tokens_details":{"reasoning_tokens":1000}}""", 10, 1002, (10 * Input) + (1002 * Output) },
        { "priced", true, """{"prompt_tokens":10,"completion_tokens":2,"total_tokens":1012,"completion_tokens_details":{"reasoning_tokens":1000}}""", 10, 1002, (10 * Input) + (1002 * Output) },
        // OpenAI's own way (reasoning inside completion_tokens): the same bill.
        { "priced", true, """{"prompt_tokens":10,"completion_tokens":1002,"total_tokens":1012,"completion_tokens_details":{"reasoning_tokens":1000}}""", 10, 1002, (10 * Input) + (1002 * Output) },
        // Cached input at the cached price where the model has one, at the input price where not.
        { "priced", false, """{"prompt_tokens":1000,"completion_tokens":5,"total_tokens":1005,"prompt_tokens_details":{"cached_tokens":800}}""", 1000, 5, (200 * Input) + (800 * Cached) + (5 * Output) },
        { "priced", true, """{"prompt_tokens":1000,"completion_tokens":5,"total_tokens":1005,"prompt_tokens_details":{"cached_tokens":800}}""", 1000, 5, (200 * Input) + (800 * Cached) + (5 * Output) },
        { "uncached", true, """{"prompt_tokens":1000,"completion_tokens":5,"total_tokens":1005,"prompt_tokens_details":{"cached_tokens":800}}""", 1000, 5, (1000 * Input) + (5 * Output) },
        // More cached than prompt: never more than the prompt is priced as cached.
        { "priced", false, """{"prompt_tokens":10,"completion_tokens":1,"total_tokens":11,"prompt_tokens_details":{"cached_tokens":50}}""", 10, 1, (10 * Cached) + Output },
        // A total below prompt + completion, a negative total: completion_tokens stands.
        { "priced", true, """{"prompt_tokens":10,"completion_tokens":7,"total_tokens":3}""", 10, 7, (10 * Input) + (7 * Output) },
        { "priced", false, """{"prompt_tokens":-4,"completion_tokens":7,"total_tokens":-100,"prompt_tokens_details":{"cached_tokens":-9}}""", 0, 7, 7 * Output },
        // Streamed usage split across chunks (the prompt on the first, the output on the last): both halves are billed.
        { "priced", true, """{"$first":{"prompt_tokens":1000,"prompt_tokens_details":{"cached_tokens":800}},"completion_tokens":5}""", 1000, 5, (200 * Input) + (800 * Cached) + (5 * Output) },
        // Cumulative usage on every chunk: the last (largest) stands.
        { "priced", true, """{"$first":{"prompt_tokens":10,"completion_tokens":1,"total_tokens":11},"prompt_tokens":10,"completion_tokens":9,"total_tokens":19}""", 10, 9, (10 * Input) + (9 * Output) },
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task The_ledger_and_the_spent_budget_bill_the_normalised_usage(string model, bool stream, string usage, long prompt, long completion, long cost)
    {
        var quota = await ChatAsync(model, stream, usage);
        Assert.Equal(cost, (long)quota["spent_nanos"]!);
        var summary = await _host.UsageAsync("t1");
        Assert.Equal((prompt, completion, cost), ((long)summary["prompt_tokens"]!, (long)summary["completion_tokens"]!, (long)summary["cost_nanos"]!));
        var record = await LedgerRecordAsync();
        Assert.Equal((prompt, completion, cost, stream), ((long)record["prompt_tokens"]!, (long)record["completion_tokens"]!, (long)record["cost_nanos"]!, (bool)record["stream"]!));
        Assert.False((bool)record["estimated"]!);
    }

    [Theory]
    [InlineData(false, """{"completion_tokens":5,"total_tokens":"lots"}""", true, false)]
    [InlineData(true, """{"prompt_tokens":"ten","completion_tokens":5}""", true, false)]
    [InlineData(false, """{"prompt_tokens":10}""", false, true)]
    [InlineData(true, """{"prompt_tokens":10,"total_tokens":null}""", false, true)]
    public async Task A_side_the_report_leaves_out_is_billed_as_the_relays_estimate_not_as_zero(bool stream, string usage, bool promptMissing, bool outputMissing)
    {
        await ChatAsync("priced", stream, usage);

        var record = await LedgerRecordAsync();
        var (prompt, completion) = ((long)record["prompt_tokens"]!, (long)record["completion_tokens"]!);
        Assert.True((bool)record["estimated"]!);
        // The reported side stands as reported; the missing one is the estimate (the prompt's text, or "hi" relayed: 1 token).
        Assert.True(promptMissing ? prompt > 0 : prompt == 10, $"prompt_tokens {prompt}");
        Assert.Equal(outputMissing ? 1 : 5, completion);
        Assert.Equal((prompt * Input) + (completion * Output), (long)record["cost_nanos"]!);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Every_detail_is_kept_in_the_record_and_the_totals(bool stream)
    {
        const string usage = """
            {"prompt_tokens":100,"completion_tokens":40,"total_tokens":140,
             "prompt_tokens_details":{"cached_tokens":60,"audio_tokens":12},
             "completion_tokens_details":{"reasoning_tokens":20,"audio_tokens":5,"accepted_prediction_tokens":3,"rejected_prediction_tokens":4}}
            """;
        await ChatAsync("priced", stream, usage);

        var record = await LedgerRecordAsync();
        Assert.Equal(
            (60L, 20L, 12L, 5L, 3L, 4L),
            ((long)record["cached_tokens"]!, (long)record["reasoning_tokens"]!, (long)record["prompt_audio_tokens"]!,
             (long)record["completion_audio_tokens"]!, (long)record["accepted_prediction_tokens"]!, (long)record["rejected_prediction_tokens"]!));
        var summary = await _host.UsageAsync("t1");
        Assert.Equal((60L, 20L), ((long)summary["cached_tokens"]!, (long)summary["reasoning_tokens"]!));
        Assert.Equal((40 * Input) + (60 * Cached) + (40 * Output), (long)summary["cost_nanos"]!);
    }

    [Fact]
    public async Task Items_of_a_sync_batch_are_billed_the_same_way()
    {
        const string reasoning = """{"prompt_tokens":10,"completion_tokens":2,"total_tokens":1012,"completion_tokens_details":{"reasoning_tokens":1000}}""";
        const string cached = """{"prompt_tokens":1000,"completion_tokens":5,"total_tokens":1005,"prompt_tokens_details":{"cached_tokens":800}}""";
        JsonObject Item(string usage) => new() { ["model"] = "priced", ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = usage }) };
        using var client = _host.ClientFor(Key);
        using var response = await client.PostAsync("/v1/batch", RelayHost.Json(new JsonObject { ["requests"] = new JsonArray(Item(reasoning), Item(cached)) }.ToJsonString()));
        Assert.Equal(200, (int)response.StatusCode);

        var expected = (10 * Input) + (1002 * Output) + (200 * Input) + (800 * Cached) + (5 * Output);
        Assert.Equal(expected, (long)(await _host.WaitForIdleAsync("t1"))["spent_nanos"]!);
        var summary = await _host.UsageAsync("t1");
        Assert.Equal((1010L, 1007L, 800L, 1000L), ((long)summary["prompt_tokens"]!, (long)summary["completion_tokens"]!, (long)summary["cached_tokens"]!, (long)summary["reasoning_tokens"]!));
    }

    [Fact]
    public async Task Items_of_a_batch_job_are_billed_the_same_way_and_the_batch_shows_the_details()
    {
        const string reasoning = """{"prompt_tokens":10,"completion_tokens":2,"total_tokens":1012,"completion_tokens_details":{"reasoning_tokens":1000}}""";
        const string cached = """{"prompt_tokens":1000,"completion_tokens":5,"total_tokens":1005,"prompt_tokens_details":{"cached_tokens":800}}""";
        static string Line(string id, string usage) => new JsonObject
        {
            ["custom_id"] = id, ["method"] = "POST", ["url"] = "/v1/chat/completions",
            ["body"] = new JsonObject { ["model"] = "priced", ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = usage }) },
        }.ToJsonString();
        using var client = _host.ClientFor(Key);
        using var upload = await client.PostAsync("/v1/files", FilesHost.Upload(System.Text.Encoding.UTF8.GetBytes(Line("a", reasoning) + "\n" + Line("b", cached) + "\n"), "in.jsonl", "batch"));
        Assert.Equal(200, (int)upload.StatusCode);
        var fileId = (string)JsonNode.Parse(await upload.Content.ReadAsStringAsync())!["id"]!;
        using var created = await client.PostAsync("/v1/batches", RelayHost.Json(new { input_file_id = fileId, endpoint = "/v1/chat/completions", completion_window = "24h" }));
        Assert.Equal(200, (int)created.StatusCode);
        var id = (string)JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!;
        var batch = (await Eventually.WaitAsync(
            async () => (JsonObject)JsonNode.Parse(await client.GetStringAsync($"/v1/batches/{id}"))!,
            b => (string?)b["status"] is "completed" or "failed" or "expired" or "cancelled", TimeSpan.FromSeconds(30)))!;
        Assert.Equal("completed", (string?)batch["status"]);

        var usage = batch["usage"]!;
        Assert.Equal((1010L, 1007L, 800L, 1000L, 2017L), ((long)usage["input_tokens"]!, (long)usage["output_tokens"]!,
            (long)usage["input_tokens_details"]!["cached_tokens"]!, (long)usage["output_tokens_details"]!["reasoning_tokens"]!, (long)usage["total_tokens"]!));
        // Batch items are billed at the batch price (half, by default), cached input included.
        var expected = ((10 * Input) + (1002 * Output) + (200 * Input) + (800 * Cached) + (5 * Output)) / 2;
        Assert.Equal(expected, (long)(await _host.WaitForIdleAsync("t1"))["spent_nanos"]!);
    }

    [Fact]
    public void Absurd_counts_are_clamped_and_output_is_never_below_completion()
    {
        var facts = ChunkInspector.Inspect("""{"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":1e300,"prompt_tokens_details":{"cached_tokens":1e300}}}"""u8);
        Assert.Equal(ChunkInspector.MaxReportedTokens - 5, facts.Usage!.Value.CompletionTokens);
        Assert.Equal(3, facts.Usage.Value.ReportedCompletionTokens);
        Assert.Equal(5, facts.Usage.Value.BilledCachedTokens);

        var missing = ChunkInspector.Inspect("""{"usage":{"prompt_tokens":5,"completion_tokens":3,"completion_tokens_details":null}}"""u8);
        Assert.Equal((5L, 3L, (long?)null), (missing.Usage!.Value.PromptTokens, missing.Usage.Value.CompletionTokens, missing.Usage.Value.ReasoningTokens));
    }

    /// <summary>One chat call whose fake upstream reports <paramref name="usage"/>; the tenant's quota once it is settled.</summary>
    private async Task<JsonObject> ChatAsync(string model, bool stream, string usage)
    {
        using var client = _host.ClientFor(Key);
        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(new
        {
            model, stream, messages = new[] { new { role = "user", content = usage } },
        }));
        Assert.Equal(200, (int)response.StatusCode);
        await response.Content.ReadAsStringAsync();
        return await _host.WaitForIdleAsync("t1");
    }

    private async Task<JsonObject> LedgerRecordAsync()
    {
        var lines = await Eventually.WaitAsync(
            () => Task.FromResult(Directory.GetFiles(_host.UsageDirectory, "usage-*.jsonl").SelectMany(File.ReadAllLines).ToList()),
            l => l.Count == 1);
        return (JsonObject)JsonNode.Parse(Assert.Single(lines!))!;
    }
}
