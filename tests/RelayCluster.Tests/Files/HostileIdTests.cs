using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Files;

/// <summary>
/// Every route that takes an id from its path (or an <c>after</c> cursor from its query), against a table of
/// hostile ids: never a 5xx, always the OpenAI envelope, a 404 as for a missing object (400 for a cursor or for
/// a name that would be created). Run on the memory store and on a real Redis, where sibling keys an id could
/// reach are seeded first and must never come back.
/// </summary>
public static class HostileIds
{
    public const string Key1 = "sk-hostile-tenant-one-7f3a9c2e5b1d";
    public const string Key2 = "sk-hostile-tenant-two-7f3a9c2e5b1d";

    /// <summary>Raw ids (escaped into the URL) and ids already escaped as an attacker would send them.</summary>
    public static readonly (string Name, string InUrl)[] Table =
    [
        ("sibling key", Uri.EscapeDataString("batch_X:chunks")),
        ("sibling of a real-looking id", Uri.EscapeDataString("batch_0123456789abcdef0123456789abcdef:items")),
        ("encoded traversal", "..%2F.."),
        ("double-encoded traversal", "..%252F..%252Fetc"),
        ("glob", "*"),
        ("hash tag", Uri.EscapeDataString("{tag}")),
        ("other tenant's hash tag", Uri.EscapeDataString("x}:b:{t:t2")),
        ("very long", new string('a', 3000)),
        ("unicode", Uri.EscapeDataString("b\u00e4tch_\u2603\U0001F600")),
        ("with spaces", Uri.EscapeDataString("batch_ with spaces")),
        ("NUL", "batch_%00x"),
        ("control characters", Uri.EscapeDataString("a\r\nb\tc")),
        ("upper-cased valid shape", "BATCH_0123456789ABCDEF0123456789ABCDEF"),
    ];

    /// <summary>
    /// Ids in the table that are well-formed model names (<c>batch_X:chunks</c> could be one): on the model and route
    /// paths they name a model or route that simply does not exist, so those paths are probed with the others only.
    /// ("." and ".." are not in the table: HTTP clients and Kestrel remove dot segments before any route sees them.)
    /// </summary>
    private static readonly HashSet<string> ValidModelNames = ["sibling key", "sibling of a real-looking id", "upper-cased valid shape"];

    /// <summary>(method, route with {x} where the id goes, expected status for a malformed id).</summary>
    public static readonly (HttpMethod Method, string Route, HttpStatusCode Expected)[] TenantRoutes =
    [
        (HttpMethod.Get, "/v1/files/{x}", HttpStatusCode.NotFound),
        (HttpMethod.Get, "/v1/files/{x}/content", HttpStatusCode.NotFound),
        (HttpMethod.Delete, "/v1/files/{x}", HttpStatusCode.NotFound),
        (HttpMethod.Get, "/v1/files?after={x}", HttpStatusCode.BadRequest),
        (HttpMethod.Get, "/v1/batches/{x}", HttpStatusCode.NotFound),
        (HttpMethod.Post, "/v1/batches/{x}/cancel", HttpStatusCode.NotFound),
        (HttpMethod.Get, "/v1/batches?after={x}", HttpStatusCode.BadRequest),
        (HttpMethod.Post, "/v1/streams/{x}/token", HttpStatusCode.NotFound),
        (HttpMethod.Get, "/v1/models/{x}", HttpStatusCode.NotFound),
    ];

    public static readonly (HttpMethod Method, string Route, HttpStatusCode Expected)[] AdminRoutes =
    [
        (HttpMethod.Get, "/admin/tenants/{x}", HttpStatusCode.NotFound),
        (HttpMethod.Patch, "/admin/tenants/{x}", HttpStatusCode.NotFound),
        (HttpMethod.Delete, "/admin/tenants/{x}", HttpStatusCode.NotFound),
        (HttpMethod.Post, "/admin/tenants/{x}/pause", HttpStatusCode.NotFound),
        (HttpMethod.Post, "/admin/tenants/{x}/resume", HttpStatusCode.NotFound),
        (HttpMethod.Post, "/admin/tenants/{x}/keys", HttpStatusCode.NotFound),
        (HttpMethod.Get, "/admin/tenants/{x}/quota", HttpStatusCode.NotFound),
        (HttpMethod.Get, "/admin/tenants/{x}/usage", HttpStatusCode.NotFound),
        (HttpMethod.Get, "/admin/tenants/{x}/batches", HttpStatusCode.NotFound),
        (HttpMethod.Get, "/admin/tenants/{x}/files/usage", HttpStatusCode.NotFound),
        (HttpMethod.Delete, "/admin/tenants/t1/keys/{x}", HttpStatusCode.NotFound),
        (HttpMethod.Post, "/admin/tenants/t1/keys/{x}/rotate", HttpStatusCode.NotFound),
        (HttpMethod.Get, "/admin/tenants/t1/batches/{x}", HttpStatusCode.NotFound),
        (HttpMethod.Post, "/admin/tenants/t1/batches/{x}/cancel", HttpStatusCode.NotFound),
        (HttpMethod.Get, "/admin/tenants/t1/batches?after={x}", HttpStatusCode.BadRequest),
        (HttpMethod.Get, "/admin/routes/{x}", HttpStatusCode.NotFound),
        (HttpMethod.Put, "/admin/routes/{x}", HttpStatusCode.BadRequest),
        (HttpMethod.Patch, "/admin/routes/{x}/weights", HttpStatusCode.NotFound),
        (HttpMethod.Post, "/admin/routes/{x}/activate", HttpStatusCode.NotFound),
        (HttpMethod.Delete, "/admin/routes/{x}", HttpStatusCode.NotFound),
        (HttpMethod.Get, "/admin/routes/{x}/shadow", HttpStatusCode.NotFound),
    ];

    public static (string Key, string? Value)[] Settings(string filesPath) =>
    [
        ("Relay:Tenants:t1:Keys:0", Key1),
        ("Relay:Tenants:t2:Keys:0", Key2),
        ("Relay:Files:Path", filesPath),
    ];

    /// <summary>
    /// Sends every hostile id to every route and returns what went wrong, one line per failure: a 5xx, a status
    /// other than expected, or a body that is not the envelope. Kestrel itself refuses an encoded NUL in a path
    /// (400) before any route runs; that answer is checked for "no 5xx" only (its envelope is the framework
    /// layer's concern, issue 10 item 16).
    /// </summary>
    public static async Task<List<string>> ProbeAsync(RelayHost host)
    {
        var failures = new List<string>();
        using var tenant = host.ClientFor(Key1);
        using var admin = host.ClientFor(RelayHost.AdminKey);
        foreach (var (client, routes) in new[] { (tenant, TenantRoutes), (admin, AdminRoutes) })
        {
            foreach (var (method, route, expected) in routes)
            {
                foreach (var (name, id) in Table)
                {
                    if (ValidModelNames.Contains(name) && (route.Contains("/routes/", StringComparison.Ordinal) || route.Contains("/models/", StringComparison.Ordinal)))
                    {
                        continue;
                    }

                    var url = route.Replace("{x}", id, StringComparison.Ordinal);
                    using var request = new HttpRequestMessage(method, url);
                    if (method != HttpMethod.Get && method != HttpMethod.Delete)
                    {
                        request.Content = new StringContent(
                            route.Contains("/routes/", StringComparison.Ordinal) ? """{"alternatives":{"a":{"targets":[{"model":"mock-fast"}]}}}""" : "{}",
                            Encoding.UTF8, "application/json");
                    }

                    using var response = await client.SendAsync(request);
                    var status = (int)response.StatusCode;
                    var body = await response.Content.ReadAsStringAsync();
                    var where = $"{method} {route} with {name}";
                    if (status >= 500)
                    {
                        failures.Add($"{where}: {status} {body}");
                        continue;
                    }

                    if (id.Contains("%00", StringComparison.Ordinal) && status == 400 && !IsEnvelope(body))
                    {
                        continue; // Kestrel's own refusal, before routing
                    }

                    if (response.StatusCode != expected)
                    {
                        failures.Add($"{where}: expected {(int)expected}, got {status} {body}");
                    }
                    else if (!IsEnvelope(body))
                    {
                        failures.Add($"{where}: not an OpenAI error envelope: {body}");
                    }
                }
            }
        }

        return failures;
    }

    private static bool IsEnvelope(string body)
    {
        try
        {
            return JsonNode.Parse(body) is JsonObject { Count: 1 } root && root["error"] is JsonObject error
                && error["message"] is JsonValue message && message.GetValueKind() == System.Text.Json.JsonValueKind.String
                && error["type"] is JsonValue && error.ContainsKey("param") && error.ContainsKey("code");
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }

    /// <summary>The state a probe must leave untouched: tenants, t1's keys, routes.</summary>
    public static async Task<string> SnapshotAsync(RelayHost host)
    {
        using var admin = host.ClientFor(RelayHost.AdminKey);
        var tenants = await admin.GetStringAsync("/admin/tenants");
        var t1 = (await admin.GetFromJsonAsync<JsonObject>("/admin/tenants/t1"))!;
        var routes = await admin.GetStringAsync("/admin/routes");
        return string.Join('\n', ((JsonArray)JsonNode.Parse(tenants)!["data"]!).Select(t => (string)t!["id"]!).Order(StringComparer.Ordinal))
            + "\n" + t1["keys"]!.ToJsonString() + "\n" + t1["paused"] + "\n" + routes;
    }
}

/// <summary>The hostile-id table on the embedded (memory) store.</summary>
public sealed class HostileIdMemoryTests : IDisposable
{
    private readonly TempDirectory _files = new();
    private readonly RelayHost _host;

    public HostileIdMemoryTests() => _host = new RelayHost(RelayHost.SimulatorSettings(HostileIds.Settings(_files.Path)));

    public void Dispose()
    {
        _host.Dispose();
        _files.Dispose();
    }

    [Fact]
    public async Task Every_route_answers_a_hostile_id_as_a_missing_object_with_the_envelope_and_changes_nothing()
    {
        var before = await HostileIds.SnapshotAsync(_host);

        var failures = await HostileIds.ProbeAsync(_host);

        Assert.True(failures.Count == 0, string.Join('\n', failures));
        Assert.Equal(before, await HostileIds.SnapshotAsync(_host));
        Assert.All(Directory.GetFileSystemEntries(_files.Path), p => Assert.Equal("t1", Path.GetFileName(p))); // no directory for any id
    }

    [Theory]
    [InlineData("/admin/tenants/t1/batches?limit=abc")]
    [InlineData("/admin/tenants/t1/batches?limit=0")]
    [InlineData("/admin/tenants/t1/batches?limit=99999999999")]
    public async Task A_malformed_limit_on_the_admin_batch_list_is_a_400_naming_it(string url)
    {
        using var admin = _host.ClientFor(RelayHost.AdminKey);
        using var response = await admin.GetAsync(url);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("limit", (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["param"]);
    }
}

/// <summary>
/// The hostile-id table on a real Redis, with sibling keys seeded where a malformed id would have reached them:
/// a batch hash under t1's hash tag named like <c>batch_X:chunks</c>, and a stream channel owned by t1 under a
/// malformed id. Neither may ever be returned.
/// </summary>
public sealed class HostileIdRedisTests : RedisRelay, IDisposable
{
    private readonly TempDirectory _files = new();

    protected override (string Key, string? Value)[] Settings() => HostileIds.Settings(_files.Path);

    [Fact]
    public async Task Every_route_answers_a_hostile_id_as_a_missing_object_and_no_seeded_sibling_key_is_reached()
    {
        // Keys that a malformed id would name if it reached the store: each reads as a complete, visible object.
        foreach (var id in new[] { "batch_X:chunks", "batch_0123456789abcdef0123456789abcdef:items", "*", "{tag}" })
        {
            await Redis.Connection.ExecuteAsync("HSET", "{t:t1}:b:" + id, "id", id, "tenant", "t1", "endpoint", "/v1/chat/completions",
                "input_file_id", "file-x", "status", "completed", "created_at", 1, "expires_at", 2, "total", 0, "completed", 0, "failed", 0);
            await Redis.Connection.ExecuteAsync("ZADD", "{t:t1}:batches", 1, id);
            await Redis.Connection.ExecuteAsync("HSET", "{s:" + id + "}:meta", "tenant", "t1");
        }

        var before = await HostileIds.SnapshotAsync(Host);
        var failures = await HostileIds.ProbeAsync(Host);

        Assert.True(failures.Count == 0, string.Join('\n', failures));
        Assert.Equal(before, await HostileIds.SnapshotAsync(Host));

        // The seeded ids themselves, sent exactly: still 404, never the seeded object.
        using var client = Host.ClientFor(HostileIds.Key1);
        foreach (var id in new[] { "batch_X:chunks", "batch_0123456789abcdef0123456789abcdef:items", "*", "{tag}" })
        {
            using var batch = await client.GetAsync("/v1/batches/" + Uri.EscapeDataString(id));
            Assert.Equal(HttpStatusCode.NotFound, batch.StatusCode);
            using var token = await client.PostAsync("/v1/streams/" + Uri.EscapeDataString(id) + "/token", null);
            Assert.Equal(HttpStatusCode.NotFound, token.StatusCode);
            Assert.DoesNotContain("\"token\"", await token.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // A cursor naming a seeded sibling is refused rather than used to page from it.
        using var page = await client.GetAsync("/v1/batches?after=" + Uri.EscapeDataString("batch_X:chunks"));
        Assert.Equal(HttpStatusCode.BadRequest, page.StatusCode);

        // The seeded keys are still exactly as seeded: nothing wrote to them (a cancel would have).
        Assert.Equal("completed", (string?)await Redis.Connection.ExecuteAsync("HGET", "{t:t1}:b:batch_X:chunks", "status"));
    }

    public void Dispose() => _files.Dispose();
}
