using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Hostile;

/// <summary>
/// A large body is refused before it is parsed when the tenant would be refused anyway, and element counts are
/// bounded as OpenAI bounds them. The proof that the paused check came first: the same body from a tenant that
/// is not paused is a 400 for its message count, which only parsing can find.
/// </summary>
public sealed class EarlyRefusalTests : IDisposable
{
    private const string PausedKey = "sk-early-paused";
    private const string ActiveKey = "sk-early-active";
    private const string BusyKey = "sk-early-busy";
    private readonly RelayHost _host = new(RelayHost.SimulatorSettings(
        ("Relay:Tenants:paused:Keys:0", PausedKey),
        ("Relay:Tenants:active:Keys:0", ActiveKey),
        ("Relay:Tenants:busy:Keys:0", BusyKey),
        ("Relay:Tenants:busy:RequestsPerMinute", "1")));

    public void Dispose() => _host.Dispose();

    /// <summary>About 3.6 MB: 120,000 tiny messages, under the 4 MB body limit.</summary>
    private static string ManyMessages(int count = 120_000)
    {
        var body = new StringBuilder("""{"model":"mock-fast","messages":[""");
        for (var i = 0; i < count; i++)
        {
            body.Append(i == 0 ? "" : ",").Append("""{"role":"user","content":"x"}""");
        }

        return body.Append("]}").ToString();
    }

    [Fact]
    public async Task A_paused_tenants_large_body_gets_its_403_before_parsing()
    {
        using var admin = _host.ClientFor(RelayHost.AdminKey);
        (await admin.PostAsync("/admin/tenants/paused/pause", null)).EnsureSuccessStatusCode();
        var body = ManyMessages();

        using var paused = _host.ClientFor(PausedKey);
        using var refused = await paused.PostAsync("/v1/chat/completions", RelayHost.Json(body));
        using var active = _host.ClientFor(ActiveKey);
        using var parsed = await active.PostAsync("/v1/chat/completions", RelayHost.Json(body));

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal("tenant_paused", (string?)(await refused.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["code"]);
        Assert.Equal(HttpStatusCode.BadRequest, parsed.StatusCode);
        var error = (await parsed.Content.ReadFromJsonAsync<JsonObject>())!["error"]!;
        Assert.Equal("messages", (string?)error["param"]);
        Assert.Equal("array_above_max_length", (string?)error["code"]);
        Assert.Equal(0, (long)(await _host.QuotaAsync("active"))["requests_in_window"]!);
    }

    [Fact]
    public async Task A_paused_tenants_large_sync_batch_gets_its_403_before_parsing()
    {
        using var admin = _host.ClientFor(RelayHost.AdminKey);
        (await admin.PostAsync("/admin/tenants/paused/pause", null)).EnsureSuccessStatusCode();
        var body = """{"requests":[""" + string.Join(",", Enumerable.Repeat("""{"model":"mock-fast","messages":[{"role":"user","content":"x"}]}""", 5_000)) + "]}";

        using var paused = _host.ClientFor(PausedKey);
        using var refused = await paused.PostAsync("/v1/batch", RelayHost.Json(body));
        using var active = _host.ClientFor(ActiveKey);
        using var parsed = await active.PostAsync("/v1/batch", RelayHost.Json(body));

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, parsed.StatusCode); // too many requests: only parsing finds that
        Assert.Equal("requests", (string?)(await parsed.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["param"]);
    }

    [Fact]
    public async Task A_full_request_window_refuses_a_large_body_before_parsing()
    {
        using var client = _host.ClientFor(BusyKey);
        using (var first = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("the one request this minute"))))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        using var refused = await client.PostAsync("/v1/chat/completions", RelayHost.Json(ManyMessages()));

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode); // not the 400 that parsing would give
        Assert.True(refused.Headers.RetryAfter is not null);
        Assert.Equal(1, (long)(await _host.QuotaAsync("busy"))["requests_in_window"]!);
    }

    public static TheoryData<string, string, string> Counts => new()
    {
        { "/v1/chat/completions", ManyMessages(2049), "messages" },
        { "/v1/chat/completions", """{"model":"mock-fast","messages":[{"role":"user","content":[""" + string.Join(",", Enumerable.Repeat("""{"type":"text","text":"x"}""", 2049)) + "]}]}", "messages[0].content" },
        { "/v1/chat/completions", """{"model":"mock-fast","messages":[{"role":"user","content":"x"}],"tools":[""" + string.Join(",", Enumerable.Repeat("""{"type":"function","function":{"name":"f"}}""", 129)) + "]}", "tools" },
        { "/v1/embeddings", """{"model":"mock-embed","input":[""" + string.Join(",", Enumerable.Repeat("\"x\"", 2049)) + "]}", "input" },
    };

    [Theory]
    [MemberData(nameof(Counts))]
    public async Task Element_counts_above_openais_bounds_are_a_400_naming_the_parameter(string path, string body, string param)
    {
        using var client = _host.ClientFor(ActiveKey);
        using var response = await client.PostAsync(path, RelayHost.Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!;
        Assert.Equal(param, (string?)error["param"]);
        Assert.Equal("array_above_max_length", (string?)error["code"]);
    }
}
