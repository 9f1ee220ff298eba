using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using RelayCluster.Core.Wire;
using RelayCluster.Tests.Files;

namespace RelayCluster.Tests.Hostile;

/// <summary>
/// Counts OpenAI bounds that the relay passed through unbounded (the review found 300k stop sequences, 200k
/// logit_bias and metadata entries, 30k tool_calls, token id -1, a repeated multipart purpose): each one past its
/// bound is a 400 naming the parameter, and each one at its bound still passes.
/// </summary>
public sealed class CountBoundsTests(FilesHost files) : IClassFixture<FilesHost>
{
    private static string Chat(string extra, string message = """{"role":"user","content":"hi"}""") =>
        $$"""{"model":"m","messages":[{{message}}]{{extra}}}""";

    private static string Strings(int count) => "[" + string.Join(",", Enumerable.Range(0, count).Select(i => $"\"s{i}\"")) + "]";

    private static string Pairs(int count, Func<int, string> value) =>
        "{" + string.Join(",", Enumerable.Range(0, count).Select(i => $"\"{i}\":{value(i)}")) + "}";

    private static string ToolCalls(int count) => "[" + string.Join(",", Enumerable.Range(0, count).Select(i =>
        $$$"""{"id":"call_{{{i}}}","type":"function","function":{"name":"f","arguments":"{}"}}""")) + "]";

    public static TheoryData<string, string, string> TooMany() => new()
    {
        { Chat($",\"stop\":{Strings(5)}"), "stop", "array_above_max_length" },
        { Chat($",\"stop\":{Strings(300_000)}"), "stop", "array_above_max_length" },
        { Chat(",\"stop\":[\"a\",7]"), "stop[1]", "invalid_type" },
        { Chat(",\"stop\":7"), "stop", "invalid_type" },
        { Chat($",\"metadata\":{Pairs(17, _ => "\"v\"")}"), "metadata", "invalid_value" },
        { Chat($",\"metadata\":{Pairs(200_000, _ => "\"v\"")}"), "metadata", "invalid_value" },
        { Chat($",\"metadata\":{{\"{new string('k', 65)}\":\"v\"}}"), "metadata", "invalid_value" },
        { Chat($",\"metadata\":{{\"k\":\"{new string('v', 513)}\"}}"), "metadata", "invalid_value" },
        { Chat(",\"metadata\":{\"k\":1}"), "metadata", "invalid_value" },
        { Chat(",\"metadata\":[]"), "metadata", "invalid_type" },
        { Chat($",\"logit_bias\":{Pairs(301, _ => "1")}"), "logit_bias", "invalid_value" },
        { Chat($",\"logit_bias\":{Pairs(200_000, _ => "1")}"), "logit_bias", "invalid_value" },
        { Chat(",\"logit_bias\":[1]"), "logit_bias", "invalid_type" },
        { Chat("", $$"""{"role":"assistant","content":null,"tool_calls":{{ToolCalls(RequestLimits.MaxToolCalls + 1)}}}"""),
            "messages[0].tool_calls", "array_above_max_length" },
        { Chat("", """{"role":"assistant","content":null,"tool_calls":{"id":"x"}}"""), "messages[0].tool_calls", "invalid_type" },
    };

    [Theory]
    [MemberData(nameof(TooMany))]
    public void A_count_past_its_bound_is_a_400_naming_the_parameter(string json, string param, string code)
    {
        var (request, error) = RequestParser.Parse(RelayOperation.ChatCompletions, Encoding.UTF8.GetBytes(json));
        Assert.Null(request);
        Assert.Equal((400, "invalid_request_error", param, code), (error!.Status, error.Error.Type, error.Error.Param, error.Error.Code));
    }

    [Fact]
    public void Counts_at_their_bounds_pass()
    {
        var json = Chat(
            $",\"stop\":{Strings(4)},\"metadata\":{Pairs(16, _ => $"\"{new string('v', 512)}\"")},\"logit_bias\":{Pairs(300, i => i % 2 == 0 ? "-100" : "100")}",
            $$"""{"role":"assistant","content":null,"tool_calls":{{ToolCalls(RequestLimits.MaxToolCalls)}}}""");
        var (request, error) = RequestParser.Parse(RelayOperation.ChatCompletions, Encoding.UTF8.GetBytes(json));
        Assert.Null(error);
        Assert.NotNull(request);
        Assert.Null(RequestParser.Parse(RelayOperation.ChatCompletions, Encoding.UTF8.GetBytes(Chat(",\"stop\":\"END\",\"metadata\":null,\"logit_bias\":null"))).Error);
    }

    [Theory]
    [InlineData("[-1]")]
    [InlineData("[5,-1]")]
    [InlineData("[[0,1,-7]]")]
    [InlineData("[[1],[-9223372036854775808]]")]
    public void A_negative_embedding_token_id_is_a_400_naming_input(string input)
    {
        var (request, error) = RequestParser.Parse(RelayOperation.Embeddings, Encoding.UTF8.GetBytes($$"""{"model":"m","input":{{input}}}"""));
        Assert.Null(request);
        Assert.Equal((400, "input", "invalid_value"), (error!.Status, error.Error.Param, error.Error.Code));
        Assert.Contains("at least 0", error.Error.Message, StringComparison.Ordinal);
        Assert.Null(RequestParser.Parse(RelayOperation.Embeddings, Encoding.UTF8.GetBytes("""{"model":"m","input":[[0,100255]]}""")).Error);
    }

    [Theory]
    [InlineData("purpose", "batch", "batch")]
    [InlineData("purpose", "batch", "user_data")]
    [InlineData("expires_after[anchor]", "created_at", "created_at")]
    public async Task A_repeated_multipart_field_is_a_400_naming_it_and_stores_nothing(string name, string first, string second)
    {
        var before = files.StoredFiles();
        using var form = FilesHost.Upload(FilesHost.Jsonl(1), "in.jsonl", name == "purpose" ? null : "batch");
        form.Add(new StringContent(first), name);
        form.Add(new StringContent(second), name);
        using var client = files.Host.ClientFor(FilesHost.Key1);
        using var response = await client.PostAsync("/v1/files", form);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!;
        Assert.Equal(("invalid_request_error", name), ((string?)error["type"], (string?)error["param"]));
        Assert.Contains("more than once", (string?)error["message"], StringComparison.Ordinal);
        Assert.Equal(before, files.StoredFiles());
    }
}
