using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>
/// <c>POST /v1/batch</c>: each item runs as a single call would (same answer, same limits, same billing),
/// results come back in input order, and a bad envelope is one 400 naming the field.
/// </summary>
public sealed class SyncBatchTests : IDisposable
{
    private const string Key = "sk-sync-batch-key";
    private const string LimitedKey = "sk-sync-batch-limited";
    private readonly RelayHost _host = new(RelayHost.SimulatorSettings(
        ("Relay:Tenants:t1:Keys:0", Key),
        ("Relay:Tenants:t2:Keys:0", LimitedKey),
        ("Relay:Tenants:t2:RequestsPerMinute", "3")));

    public void Dispose() => _host.Dispose();

    private static JsonObject ChatItem(string content, string? customId = null, string model = "mock-fast")
    {
        var item = (JsonObject)JsonNode.Parse((string)RelayHost.Chat(content))!;
        item["model"] = model;
        if (customId is not null)
        {
            item["custom_id"] = customId;
        }

        return item;
    }

    private static JsonObject EmbedItem(string input, string? customId = null) => new()
    {
        ["custom_id"] = customId,
        ["model"] = "mock-embed",
        ["input"] = input,
    };

    private static async Task<(HttpStatusCode Status, JsonObject Body)> PostBatchAsync(HttpClient client, params JsonNode[] items)
    {
        using var response = await client.PostAsync("/v1/batch", RelayHost.Json(new JsonObject { ["requests"] = new JsonArray(items) }.ToJsonString()));
        return (response.StatusCode, (await response.Content.ReadFromJsonAsync<JsonObject>())!);
    }

    private static JsonArray Results(JsonObject body)
    {
        Assert.Equal("batch.result", (string?)body["object"]);
        return body["results"]!.AsArray();
    }

    /// <summary>A response without the fields that differ between two identical calls (its id and second).</summary>
    private static JsonObject Comparable(JsonNode response)
    {
        var copy = response.DeepClone().AsObject();
        copy.Remove("id");
        copy.Remove("created");
        return copy;
    }

    [Fact]
    public async Task Mixed_chat_and_embeddings_come_back_in_input_order_and_equal_the_same_calls_made_one_by_one()
    {
        using var client = _host.ClientFor(Key);
        JsonObject[] items =
        [
            ChatItem("first question [[sim tokens=7]]", "a"),
            EmbedItem("embed me", "b"),
            ChatItem("second question", null),
            EmbedItem("embed me too", "d"),
            ChatItem("third question [[sim tokens=3]]", "e"),
        ];

        var (status, body) = await PostBatchAsync(client, [.. items.Select(i => i.DeepClone())]);

        Assert.Equal(HttpStatusCode.OK, status);
        var results = Results(body);
        Assert.Equal(items.Length, results.Count);
        for (var i = 0; i < items.Length; i++)
        {
            var result = results[i]!;
            Assert.Equal(i, (int)result["index"]!);
            Assert.Equal((string?)items[i]["custom_id"], (string?)result["custom_id"]);
            Assert.Equal(200, (int)result["status"]!);
            Assert.Null(result["error"]);
            Assert.Matches("^req_[0-9a-f]{32}$", (string?)result["request_id"]);
            Assert.True((double)result["latency_ms"]! >= 0);

            var single = items[i].DeepClone().AsObject();
            single.Remove("custom_id");
            var path = single.ContainsKey("messages") ? "/v1/chat/completions" : "/v1/embeddings";
            using var alone = await client.PostAsync(path, RelayHost.Json(single.ToJsonString()));
            var aloneBody = (await alone.Content.ReadFromJsonAsync<JsonObject>())!;
            Assert.True(JsonNode.DeepEquals(Comparable(aloneBody), Comparable(result["response"]!)), $"item {i}: {result["response"]} vs {aloneBody}");
        }

        Assert.Equal(items.Length, results.Select(r => (string?)r!["request_id"]).Distinct().Count());
        Assert.Equal("chat.completion", (string?)results[0]!["response"]!["object"]);
        Assert.Equal("list", (string?)results[1]!["response"]!["object"]);
    }

    [Fact]
    public async Task An_unknown_model_is_a_404_for_its_item_only()
    {
        using var client = _host.ClientFor(Key);
        var (status, body) = await PostBatchAsync(client, ChatItem("one"), ChatItem("two", "x", model: "no-such-model"), EmbedItem("three"));

        Assert.Equal(HttpStatusCode.OK, status);
        var results = Results(body);
        Assert.Equal([200, 404, 200], results.Select(r => (int)r!["status"]!));
        var error = results[1]!["error"]!;
        Assert.Equal("model_not_found", (string?)error["code"]);
        Assert.Equal("invalid_request_error", (string?)error["type"]);
        Assert.Equal("requests[1].model", (string?)error["param"]);
        Assert.Contains("no-such-model", (string?)error["message"], StringComparison.Ordinal);
        Assert.Null(results[1]!["response"]);
        Assert.Equal("x", (string?)results[1]!["custom_id"]);
    }

    [Fact]
    public async Task A_tenant_limited_to_3_requests_a_minute_gets_exactly_3_answers_and_2_rate_limits()
    {
        using var client = _host.ClientFor(LimitedKey);
        var (status, body) = await PostBatchAsync(client, [.. Enumerable.Range(0, 5).Select(i => (JsonNode)ChatItem($"limited {i}"))]);

        Assert.Equal(HttpStatusCode.OK, status);
        var results = Results(body);
        Assert.Equal(3, results.Count(r => (int)r!["status"]! == 200));
        var limited = results.Where(r => (int)r!["status"]! == 429).ToList();
        Assert.Equal(2, limited.Count);
        Assert.All(limited, r => Assert.Equal("rate_limit_exceeded", (string?)r!["error"]!["code"]));
        Assert.Equal(3, (long)(await _host.QuotaAsync("t2"))["requests_in_window"]!);
    }

    [Fact]
    public async Task Usage_counts_exactly_the_admitted_items_and_nothing_stays_reserved()
    {
        using var client = _host.ClientFor(Key);
        var streamed = ChatItem("stream me");
        streamed["stream"] = true;
        var empty = ChatItem("empty");
        empty["messages"] = new JsonArray();
        var (_, body) = await PostBatchAsync(client,
            ChatItem("billed chat"), EmbedItem("billed embedding"), ChatItem("[[sim error=500]]"),
            ChatItem("refused", model: "no-such-model"), streamed, empty);

        Assert.Equal([200, 200, 500, 404, 400, 400], Results(body).Select(r => (int)r!["status"]!));
        var quota = await _host.WaitForIdleAsync("t1");
        var usage = await Eventually.WaitAsync(() => _host.UsageAsync("t1"), u => (long)u["requests"]! >= 3);
        Assert.Equal(3, (long)usage!["requests"]!);
        Assert.Equal(2, (long)usage["by_ending"]!["completed"]!);
        Assert.Equal(1, (long)usage["by_ending"]!["upstream_error"]!);
        Assert.Equal(0, (int)quota["in_flight"]!);
        Assert.Equal(0, (long)quota["reserved_nanos"]!);
        Assert.True((long)quota["spent_nanos"]! > 0);
        Assert.Equal((long)quota["spent_nanos"]!, (long)usage["cost_nanos"]!);
    }

    [Fact]
    public async Task An_upstream_error_is_that_items_status_and_openai_error()
    {
        using var client = _host.ClientFor(Key);
        var (_, body) = await PostBatchAsync(client, ChatItem("[[sim error=500]]", "boom"), ChatItem("fine"));

        var results = Results(body);
        Assert.Equal(500, (int)results[0]!["status"]!);
        Assert.Equal("server_error", (string?)results[0]!["error"]!["type"]);
        Assert.True(results[0]!["error"]!.AsObject().ContainsKey("param"));
        Assert.Null(results[0]!["response"]);
        Assert.Equal(200, (int)results[1]!["status"]!);
    }

    [Fact]
    public async Task Item_level_mistakes_are_400s_for_that_item_naming_the_field_in_the_batch()
    {
        using var client = _host.ClientFor(Key);
        var streamed = ChatItem("stream me");
        streamed["stream"] = true;
        var emptyMessages = ChatItem("empty");
        emptyMessages["messages"] = new JsonArray();
        var neither = new JsonObject { ["model"] = "mock-fast" };
        var (_, body) = await PostBatchAsync(client, streamed, emptyMessages, neither, ChatItem("fine"));

        var results = Results(body);
        Assert.Equal([400, 400, 400, 200], results.Select(r => (int)r!["status"]!));
        Assert.Equal(["requests[0].stream", "requests[1].messages", "requests[2].messages"], results.Take(3).Select(r => (string?)r!["error"]!["param"]));
        Assert.All(results.Take(3), r => Assert.Equal("invalid_request_error", (string?)r!["error"]!["type"]));
    }

    [Theory]
    [InlineData("not json", null, null)]
    [InlineData("[1, 2]", null, null)]
    [InlineData("{}", "requests", "missing_required_parameter")]
    [InlineData("""{"requests": {"model": "mock-fast"}}""", "requests", "invalid_type")]
    [InlineData("""{"requests": []}""", "requests", "empty_array")]
    [InlineData("""{"requests": [{"model": "mock-fast", "input": "x"}, 7]}""", "requests[1]", "invalid_type")]
    [InlineData("""{"requests": [{"model": "mock-fast", "input": "x"}, {"input": "y"}]}""", "requests[1].model", "missing_required_parameter")]
    [InlineData("""{"requests": [{"model": "mock-embed", "input": "x", "custom_id": 5}]}""", "requests[0].custom_id", "invalid_type")]
    public async Task A_bad_envelope_is_one_400_naming_the_field_and_runs_nothing(string body, string? param, string? code)
    {
        using var client = _host.ClientFor(Key);
        using var response = await client.PostAsync("/v1/batch", RelayHost.Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!;
        Assert.Equal("invalid_request_error", (string?)error["type"]);
        Assert.Equal(param, (string?)error["param"]);
        Assert.Equal(code, (string?)error["code"]);
        Assert.Equal(0, (long)(await _host.QuotaAsync("t1"))["requests_in_window"]!);
    }

    [Fact]
    public async Task More_requests_than_the_default_maximum_of_100_is_a_400()
    {
        using var client = _host.ClientFor(Key);
        var (status, body) = await PostBatchAsync(client, [.. Enumerable.Range(0, 101).Select(_ => (JsonNode)EmbedItem("x"))]);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("requests", (string?)body["error"]!["param"]);
        Assert.Equal("array_above_max_length", (string?)body["error"]!["code"]);
        Assert.Equal(0, (long)(await _host.QuotaAsync("t1"))["requests_in_window"]!);
    }
}
