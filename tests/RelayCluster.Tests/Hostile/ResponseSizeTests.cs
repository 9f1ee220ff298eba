using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Files;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Hostile;

/// <summary>
/// What one request can make the silo hold is bounded by <c>Relay:Requests:MaxResponseBytes</c> (1 MiB here): the
/// reviewer's embeddings of 2048 inputs × 4096 dimensions (about 105 MB from the simulator) ends as a 502 envelope
/// with nothing leaked, a <c>/v1/batch</c>'s answers share the bound, and a batch item past it fails as itself.
/// </summary>
public sealed class ResponseSizeTests : IDisposable
{
    private const string Key = "sk-response-size-key";
    private const long Limit = 1024 * 1024;
    private readonly TempDirectory _files = new();
    private readonly TempDirectory _work = new();
    private readonly RelayHost _host;

    public ResponseSizeTests()
    {
        _host = new RelayHost(RelayHost.SimulatorSettings(
            ("Relay:Tenants:t1:Keys:0", Key), ("Relay:Requests:MaxResponseBytes", Limit.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("Relay:SyncBatch:Concurrency", "1"), ("Relay:Files:Path", _files.Path), ("Relay:Batches:WorkPath", _work.Path),
            ("Relay:Batches:RetryBaseMs", "10")));
    }

    public void Dispose()
    {
        _host.Dispose();
        _files.Dispose();
        _work.Dispose();
    }

    /// <summary>The reviewer's repro: 2048 inputs of 4096 float dimensions.</summary>
    private static JsonObject HugeEmbeddings() => new()
    {
        ["model"] = "mock-embed",
        ["input"] = new JsonArray([.. Enumerable.Repeat("a", 2048).Select(a => (JsonNode)a)]),
        ["dimensions"] = 4096,
    };

    /// <summary>One input of 4096 float dimensions: about 45 KB, so about 20 of them fit in 1 MiB.</summary>
    private static JsonObject MediumEmbeddings(string input) => new() { ["model"] = "mock-embed", ["input"] = input, ["dimensions"] = 4096 };

    [Fact]
    public async Task An_answer_past_the_limit_is_a_502_envelope_billed_for_its_prompt_with_nothing_leaked()
    {
        using var client = _host.ClientFor(Key);
        using var response = await client.PostAsync("/v1/embeddings", RelayHost.Json(HugeEmbeddings().ToJsonString()));
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.True(body.Length < 4096, $"the refusal is an envelope, not the answer: {body.Length} bytes");
        var error = JsonNode.Parse(body)!["error"]!;
        Assert.Equal(("server_error", "upstream_response_too_large"), ((string?)error["type"], (string?)error["code"]));
        Assert.Contains(Limit.ToString(System.Globalization.CultureInfo.InvariantCulture), (string?)error["message"], StringComparison.Ordinal);
        Assert.Equal("false", response.Headers.TryGetValues("x-should-retry", out var retry) ? retry.Single() : null);

        // Nothing stays reserved or in flight; the upstream did the work after its 2xx, so the prompt is billed.
        var quota = await _host.WaitForIdleAsync("t1");
        Assert.True((long)quota["spent_nanos"]! > 0, quota.ToJsonString());
        var usage = (await Eventually.WaitAsync(() => _host.UsageAsync("t1"), u => (long)u["requests"]! >= 1, TimeSpan.FromSeconds(10)))!;
        Assert.Equal(1, (long)usage["by_ending"]!["upstream_error_mid_stream"]!);
        Assert.Equal(1, (long)usage["estimated_requests"]!);

        // An answer within the limit still passes whole.
        using var small = await client.PostAsync("/v1/embeddings", RelayHost.Json(MediumEmbeddings("fits").ToJsonString()));
        Assert.Equal(HttpStatusCode.OK, small.StatusCode);
        var data = (await small.Content.ReadFromJsonAsync<JsonObject>())!["data"]!.AsArray();
        Assert.Equal(4096, Assert.Single(data)!["embedding"]!.AsArray().Count);
    }

    [Fact]
    public async Task A_chat_answer_past_the_limit_is_not_made_whole_by_the_simulator_first()
    {
        // 128 choices of 4,096 tokens with 20 top logprobs each: about 700 MB of JSON, within the demo tenant's limits
        // (524,288 tokens). The relay reads 1 MiB of it; the in-process simulator must not have made all of it first,
        // as it did (one ~700 MB array, and twice that allocated while it grew), so one request cannot fill the silo.
        var body = new JsonObject
        {
            ["model"] = "mock-fast",
            ["n"] = 128,
            ["max_tokens"] = 4096,
            ["logprobs"] = true,
            ["top_logprobs"] = 20,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "long [[sim tokens=4096]]" }),
        };
        using var client = _host.ClientFor(Key);
        var before = GC.GetTotalAllocatedBytes();
        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(body.ToJsonString()));
        var allocated = GC.GetTotalAllocatedBytes() - before;

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("upstream_response_too_large", (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["code"]);
        // The whole process's count (other test classes may run meanwhile): 4 GiB before the fix; 1 GiB leaves them room.
        Assert.True(allocated < 1024L * 1024 * 1024, $"the process allocated {allocated / (1024 * 1024)} MiB for a 1 MiB answer");
        await _host.WaitForIdleAsync("t1");
    }

    [Fact]
    public async Task A_sync_batch_holds_no_more_than_the_limit_and_the_requests_past_it_get_an_error_result()
    {
        using var client = _host.ClientFor(Key);
        var items = new JsonArray([HugeEmbeddings(), .. Enumerable.Range(0, 40).Select(i => (JsonNode)MediumEmbeddings($"input {i}"))]);
        using var response = await client.PostAsync("/v1/batch", RelayHost.Json(new JsonObject { ["requests"] = items }.ToJsonString()));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var results = (await response.Content.ReadFromJsonAsync<JsonObject>())!["results"]!.AsArray();
        Assert.Equal(41, results.Count);

        // The huge one alone is past the limit; of the 40 medium ones, those that no longer fit get the error.
        Assert.Equal((502, "response_too_large"), ((int)results[0]!["status"]!, (string?)results[0]!["error"]!["code"]));
        var answered = results.Where(r => r!["response"] is JsonObject).ToList();
        var dropped = results.Skip(1).Where(r => r!["error"] is JsonObject).ToList();
        Assert.InRange(answered.Count, 1, 39);
        Assert.Equal(40, answered.Count + dropped.Count);
        Assert.All(dropped, r => Assert.Equal((502, "response_too_large"), ((int)r!["status"]!, (string?)r["error"]!["code"])));
        var held = answered.Sum(r => Encoding.UTF8.GetByteCount(r!["response"]!.ToJsonString()));
        Assert.True(held <= Limit, $"the answers held {held} bytes, past the {Limit}-byte limit");

        // Every item was settled: nothing in flight or reserved afterwards.
        await _host.WaitForIdleAsync("t1");
    }

    [Fact]
    public async Task A_batch_item_past_the_limit_fails_as_itself_without_retries()
    {
        using var client = _host.ClientFor(Key);
        static string Line(string id, JsonObject body) =>
            new JsonObject { ["custom_id"] = id, ["method"] = "POST", ["url"] = "/v1/embeddings", ["body"] = body }.ToJsonString();
        var content = Encoding.UTF8.GetBytes(Line("huge", HugeEmbeddings()) + "\n" + Line("small", MediumEmbeddings("fits")) + "\n");

        using var upload = await client.PostAsync("/v1/files", FilesHost.Upload(content, "input.jsonl", "batch"));
        Assert.Equal(HttpStatusCode.OK, upload.StatusCode);
        var fileId = (string)(await upload.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        using var created = await client.PostAsync("/v1/batches", RelayHost.Json(new { input_file_id = fileId, endpoint = "/v1/embeddings", completion_window = "24h" }));
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        var id = (string)(await created.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;

        var batch = (await Eventually.WaitAsync(
            async () => (await client.GetFromJsonAsync<JsonObject>($"/v1/batches/{id}"))!,
            b => (string?)b["status"] is "completed" or "failed" or "expired" or "cancelled", TimeSpan.FromSeconds(30)))!;
        Assert.Equal("completed", (string?)batch["status"]);
        Assert.Equal((1, 1), ((int)batch["request_counts"]!["completed"]!, (int)batch["request_counts"]!["failed"]!));

        var errorLine = JsonNode.Parse((await client.GetStringAsync($"/v1/files/{(string)batch["error_file_id"]!}/content")).Trim())!;
        Assert.Equal("huge", (string?)errorLine["custom_id"]);
        Assert.Equal(502, (int)errorLine["response"]!["status_code"]!);
        Assert.Equal("upstream_response_too_large", (string?)errorLine["response"]!["body"]!["error"]!["code"]);
        var output = await client.GetStringAsync($"/v1/files/{(string)batch["output_file_id"]!}/content");
        Assert.True(output.Length < Limit, $"the output file holds {output.Length} bytes");

        // One attempt each: an answer too large is not retried (it would be as large, and billed, again). Every attempt
        // was booked before its item ended, so the log holds them all once its writer catches up.
        await _host.WaitForIdleAsync("t1");
        var usage = (await Eventually.WaitAsync(() => _host.UsageAsync("t1"), u => (long)u["requests"]! >= 2, TimeSpan.FromSeconds(10)))!;
        Assert.Equal(2, (long)usage["requests"]!);
        Assert.Equal(1, (long)usage["by_ending"]!["upstream_error_mid_stream"]!);
    }
}
