using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>
/// Issue 13 on the HTTP surface: parameters refused as OpenAI refuses them (part 7), models refused on the endpoint
/// they do not serve (part 8), and /v1/models listing exactly the names a tenant may call, routes included (part 4).
/// Chat, embeddings, streamed and not, and the synchronous /v1/batch.
/// </summary>
public sealed class WireValidationTests : IDisposable
{
    private const string Key = "sk-wire-validation-key";
    private const string EmbedOnlyKey = "sk-wire-embed-only-key";
    private const string RoutesOnlyKey = "sk-wire-routes-only-key";
    private readonly RelayHost _host = new(RelayHost.SimulatorSettings(
        ("Relay:Aliases:gpt-4o-mini", "mock-fast"),
        ("Relay:Tenants:t1:Keys:0", Key),
        ("Relay:Tenants:t2:Keys:0", EmbedOnlyKey),
        ("Relay:Tenants:t2:Models:0", "mock-embed"),
        ("Relay:Tenants:t3:Keys:0", RoutesOnlyKey),
        ("Relay:Tenants:t3:Models:0", "smart*")));

    public void Dispose() => _host.Dispose();

    private async Task<(int Status, JsonObject Body)> PostAsync(string key, string path, string body)
    {
        using var client = _host.ClientFor(key);
        using var response = await client.PostAsync(path, RelayHost.Json(body));
        return ((int)response.StatusCode, (await response.Content.ReadFromJsonAsync<JsonObject>())!);
    }

    private async Task<(int Status, JsonObject Body)> AdminAsync(HttpMethod method, string path, string? body = null)
    {
        using var admin = _host.ClientFor(RelayHost.AdminKey);
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : RelayHost.Json(body) };
        using var response = await admin.SendAsync(request);
        return ((int)response.StatusCode, (await response.Content.ReadFromJsonAsync<JsonObject>())!);
    }

    private async Task<List<string>> ListAsync(string key)
    {
        using var client = _host.ClientFor(key);
        var list = (await client.GetFromJsonAsync<JsonObject>("/v1/models"))!;
        Assert.Equal("list", (string?)list["object"]);
        return [.. list["data"]!.AsArray().Select(m => (string)m!["id"]!)];
    }

    private async Task<(HttpStatusCode Status, JsonObject Body)> RetrieveAsync(string key, string id)
    {
        using var client = _host.ClientFor(key);
        using var response = await client.GetAsync($"/v1/models/{id}");
        return (response.StatusCode, (await response.Content.ReadFromJsonAsync<JsonObject>())!);
    }

    private static void AssertError(JsonObject body, string param, string code)
    {
        var error = body["error"]!;
        Assert.Equal("invalid_request_error", (string?)error["type"]);
        Assert.Equal(param, (string?)error["param"]);
        Assert.Equal(code, (string?)error["code"]);
    }

    public static TheoryData<string, bool, string, string> BadChats => new()
    {
        { "\"temperature\":\"hot\"", false, "temperature", "invalid_type" },
        { "\"temperature\":3.5", false, "temperature", "decimal_above_max_value" },
        { "\"temperature\":3.5", true, "temperature", "decimal_above_max_value" },
        { "\"top_logprobs\":2", true, "top_logprobs", "invalid_value" },
        { "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"nope\"}},\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]", false, "tool_choice", "invalid_value" },
    };

    [Theory]
    [MemberData(nameof(BadChats))]
    public async Task A_bad_parameter_is_a_400_naming_it_streamed_or_not_and_nothing_is_admitted(string fields, bool stream, string param, string code)
    {
        var (status, body) = await PostAsync(Key, "/v1/chat/completions",
            $$"""{"model":"mock-fast","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"hi"}],{{fields}}}""");

        Assert.Equal(400, status);
        AssertError(body, param, code);
        var quota = await _host.QuotaAsync("t1");
        Assert.Equal(0, (long)quota["requests_in_window"]!);
    }

    [Fact]
    public async Task A_message_without_content_is_a_400_naming_it()
    {
        var (status, body) = await PostAsync(Key, "/v1/chat/completions",
            """{"model":"mock-fast","messages":[{"role":"system","content":"be brief"},{"role":"user"}]}""");

        Assert.Equal(400, status);
        AssertError(body, "messages[1].content", "missing_required_parameter");
        Assert.Equal("Missing required parameter: 'messages[1].content'.", (string?)body["error"]!["message"]);
    }

    [Fact]
    public async Task A_bad_embeddings_parameter_is_a_400_naming_it()
    {
        var (status, body) = await PostAsync(Key, "/v1/embeddings", """{"model":"mock-embed","input":"x","user":{"id":1}}""");

        Assert.Equal(400, status);
        AssertError(body, "user", "invalid_type");
    }

    [Theory]
    [InlineData("/v1/embeddings", """{"model":"mock-fast","input":"x"}""", "You are not allowed to generate embeddings from this model")]
    [InlineData("/v1/embeddings", """{"model":"gpt-4o-mini","input":"x"}""", "You are not allowed to generate embeddings from this model")]
    [InlineData("/v1/chat/completions", """{"model":"mock-embed","messages":[{"role":"user","content":"hi"}]}""", "This is not a chat model")]
    [InlineData("/v1/chat/completions", """{"model":"mock-embed","stream":true,"messages":[{"role":"user","content":"hi"}]}""", "This is not a chat model")]
    public async Task A_model_is_refused_on_the_endpoint_it_does_not_serve(string path, string request, string message)
    {
        var (status, body) = await PostAsync(Key, path, request);

        Assert.Equal(400, status);
        AssertError(body, "model", "model_not_supported");
        Assert.StartsWith(message, (string?)body["error"]!["message"], StringComparison.Ordinal);
        Assert.Equal(0, (long)(await _host.QuotaAsync("t1"))["requests_in_window"]!);
    }

    [Fact]
    public async Task The_synchronous_batch_applies_the_same_rules_per_item()
    {
        var (status, body) = await PostAsync(Key, "/v1/batch", """
            {"requests":[
              {"model":"mock-fast","temperature":3.5,"messages":[{"role":"user","content":"a"}]},
              {"model":"mock-embed","messages":[{"role":"user","content":"b"}]},
              {"model":"mock-fast","input":"c"},
              {"model":"mock-fast","messages":[{"role":"tool","content":"d"}]},
              {"model":"mock-fast","messages":[{"role":"user","content":"e"}]},
              {"model":"mock-embed","input":"f"}
            ]}
            """);

        Assert.Equal(200, status);
        var results = body["results"]!.AsArray();
        Assert.Equal([400, 400, 400, 400, 200, 200], results.Select(r => (int)r!["status"]!));
        Assert.Equal(
            ["requests[0].temperature", "requests[1].model", "requests[2].model", "requests[3].messages[0].tool_call_id"],
            results.Take(4).Select(r => (string?)r!["error"]!["param"]));
        Assert.Equal(
            ["decimal_above_max_value", "model_not_supported", "model_not_supported", "missing_required_parameter"],
            results.Take(4).Select(r => (string?)r!["error"]!["code"]));
    }

    [Fact]
    public async Task A_route_is_listed_and_retrievable_the_moment_it_is_created_and_gone_when_deleted()
    {
        Assert.DoesNotContain("smart", await ListAsync(Key));
        Assert.Equal(HttpStatusCode.NotFound, (await RetrieveAsync(Key, "smart")).Status);

        var (put, _) = await AdminAsync(HttpMethod.Put, "/admin/routes/smart", """{"targets":[{"model":"mock-fast"}]}""");
        Assert.Equal(200, put);

        Assert.Equal(["gpt-4o-mini", "mock-embed", "mock-fast", "smart"], await ListAsync(Key));
        var (status, model) = await RetrieveAsync(Key, "smart");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("smart", (string?)model["id"]);
        Assert.Equal("model", (string?)model["object"]);
        Assert.Equal(1_700_000_000, (long)model["created"]!);
        Assert.Equal("relaycluster", (string?)model["owned_by"]);
        var (chat, _) = await PostAsync(Key, "/v1/chat/completions", """{"model":"smart","messages":[{"role":"user","content":"hi"}]}""");
        Assert.Equal(200, chat);

        var (deleted, _) = await AdminAsync(HttpMethod.Delete, "/admin/routes/smart");
        Assert.Equal(200, deleted);
        Assert.DoesNotContain("smart", await ListAsync(Key));
        Assert.Equal(HttpStatusCode.NotFound, (await RetrieveAsync(Key, "smart")).Status);
    }

    [Fact]
    public async Task Each_tenant_sees_exactly_the_names_its_calls_would_accept()
    {
        await AdminAsync(HttpMethod.Put, "/admin/routes/smart", """{"targets":[{"model":"mock-fast"}]}""");
        await AdminAsync(HttpMethod.Put, "/admin/routes/smart-embed", """{"targets":[{"model":"mock-embed"}]}""");

        // t2 may use mock-embed only: no route (its name is not allowed), no alias of mock-fast.
        Assert.Equal(["mock-embed"], await ListAsync(EmbedOnlyKey));
        Assert.Equal(HttpStatusCode.NotFound, (await RetrieveAsync(EmbedOnlyKey, "smart")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await RetrieveAsync(EmbedOnlyKey, "gpt-4o-mini")).Status);
        Assert.Equal(404, (await PostAsync(EmbedOnlyKey, "/v1/chat/completions", """{"model":"smart","messages":[{"role":"user","content":"x"}]}""")).Status);

        // t3 may use names starting "smart": the routes, whose targets it could not name itself, and nothing else.
        Assert.Equal(["smart", "smart-embed"], await ListAsync(RoutesOnlyKey));
        Assert.Equal(200, (await PostAsync(RoutesOnlyKey, "/v1/chat/completions", """{"model":"smart","messages":[{"role":"user","content":"x"}]}""")).Status);
        Assert.Equal(200, (await PostAsync(RoutesOnlyKey, "/v1/embeddings", """{"model":"smart-embed","input":"x"}""")).Status);
        Assert.Equal(404, (await PostAsync(RoutesOnlyKey, "/v1/chat/completions", """{"model":"mock-fast","messages":[{"role":"user","content":"x"}]}""")).Status);

        // A route serves the endpoint of its targets.
        var (wrong, body) = await PostAsync(RoutesOnlyKey, "/v1/chat/completions", """{"model":"smart-embed","messages":[{"role":"user","content":"x"}]}""");
        Assert.Equal(400, wrong);
        AssertError(body, "model", "model_not_supported");
    }

    [Fact]
    public async Task A_route_whose_targets_serve_different_endpoints_is_refused_at_put()
    {
        var (status, body) = await AdminAsync(HttpMethod.Put, "/admin/routes/mixed",
            """{"targets":[{"model":"mock-fast"}],"batch":[{"model":"mock-embed"}]}""");

        Assert.Equal(400, status);
        Assert.Equal("targets", (string?)body["error"]!["param"]);
        Assert.Contains("serves one endpoint", (string?)body["error"]!["message"], StringComparison.Ordinal);
        var (shadowStatus, _) = await AdminAsync(HttpMethod.Put, "/admin/routes/mixed",
            """{"targets":[{"model":"mock-fast"}],"shadow":{"model":"mock-embed","percent":10}}""");
        Assert.Equal(400, shadowStatus);
        Assert.Equal(HttpStatusCode.NotFound, (await RetrieveAsync(Key, "mixed")).Status);
    }
}
