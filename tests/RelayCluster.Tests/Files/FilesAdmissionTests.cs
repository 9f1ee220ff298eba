using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Files;

/// <summary>
/// Files, batches and stream-token calls go through the tenant grain as model calls do: they count against RPM,
/// hold a concurrency slot while they run, and are refused while the tenant is paused.
/// </summary>
public sealed class FilesAdmissionTests : IDisposable
{
    private const string RpmKey = "sk-admission-rpm-7f3a9c2e5b1d";
    private const string SlotKey = "sk-admission-slot-7f3a9c2e5b1d";
    private const string PausedKey = "sk-admission-paused-7f3a9c2e5b1d";
    private const string ValidBatchId = "batch_0123456789abcdef0123456789abcdef";
    private const string ValidStreamId = "strm_0123456789abcdef0123456789abcdef";

    private readonly TempDirectory _files = new();
    private readonly RelayHost _host;

    public FilesAdmissionTests() => _host = new RelayHost(RelayHost.SimulatorSettings(
        ("Relay:Tenants:rpm:Keys:0", RpmKey),
        ("Relay:Tenants:rpm:RequestsPerMinute", "4"),
        ("Relay:Tenants:slot:Keys:0", SlotKey),
        ("Relay:Tenants:slot:MaxConcurrent", "1"),
        ("Relay:Tenants:paused:Keys:0", PausedKey),
        ("Relay:Files:Path", _files.Path)));

    public void Dispose()
    {
        _host.Dispose();
        _files.Dispose();
    }

    [Fact]
    public Task Every_files_batches_and_stream_token_call_counts_against_rpm_and_the_release_does_not_undo_it() =>
        CountsAgainstRpmAsync(_host, RpmKey, "rpm");

    /// <summary>Four calls of a tenant with RPM 4, one of each kind, fill its window; the fifth, and a chat call, are refused.</summary>
    internal static async Task CountsAgainstRpmAsync(RelayHost host, string key, string tenant)
    {
        using var client = host.ClientFor(key);
        var calls = new Func<Task<HttpResponseMessage>>[]
        {
            () => client.GetAsync("/v1/files"),
            () => client.GetAsync("/v1/batches"),
            () => client.PostAsync($"/v1/streams/{ValidStreamId}/token", null), // 404, still a call
            () => client.GetAsync($"/v1/batches/{ValidBatchId}"), // 404, still a call
        };
        var remaining = new List<string>();
        foreach (var call in calls)
        {
            using var response = await call();
            Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.NotFound, $"{response.StatusCode}");
            remaining.Add(response.Headers.GetValues("x-ratelimit-remaining-requests").Single());
        }

        Assert.Equal(["3", "2", "1", "0"], remaining);
        using (var refused = await client.GetAsync("/v1/files"))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.True(refused.Headers.Contains("Retry-After"));
            var error = (await refused.Content.ReadFromJsonAsync<JsonObject>())!["error"]!;
            Assert.Equal("rate_limit_exceeded", (string?)error["code"]);
            Assert.Contains("requests per min (RPM)", (string?)error["message"], StringComparison.Ordinal);
        }

        // One window for everything: a model call is refused too.
        using (var chat = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("hi"))))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, chat.StatusCode);
        }

        var quota = await host.WaitForIdleAsync(tenant);
        Assert.Equal(4, (long)quota["requests_in_window"]!); // released slots, requests still counted
    }

    [Fact]
    public async Task A_call_in_progress_holds_a_concurrency_slot_until_it_ends()
    {
        using var client = _host.ClientFor(SlotKey);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var form = FilesHost.Upload(FilesHost.Jsonl(2), "in.jsonl", "batch");
        using var gated = new GatedContent(await form.ReadAsByteArrayAsync(), form.Headers.ContentType!, gate.Task);
        using var uploader = _host.DisconnectingClientFor(SlotKey); // plain sockets: the body really streams
        var upload = uploader.PostAsync("/v1/files", gated);

        var busy = await Eventually.WaitAsync(() => _host.QuotaAsync("slot"), q => (int)q["in_flight"]! == 1);
        Assert.Equal(1, (int)busy!["in_flight"]!);
        using (var refused = await client.GetAsync("/v1/files"))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.Contains("Too many concurrent requests", (string?)(await refused.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["message"], StringComparison.Ordinal);
        }

        gate.SetResult();
        using (var uploaded = await upload)
        {
            Assert.Equal(HttpStatusCode.OK, uploaded.StatusCode);
        }

        await _host.WaitForIdleAsync("slot");
        using var listed = await client.GetAsync("/v1/files");
        Assert.Equal(HttpStatusCode.OK, listed.StatusCode);
        Assert.Single((JsonArray)(await listed.Content.ReadFromJsonAsync<JsonObject>())!["data"]!);
    }

    [Fact]
    public async Task A_paused_tenant_is_refused_on_every_files_batches_and_stream_call_and_uploads_store_nothing()
    {
        using var admin = _host.ClientFor(RelayHost.AdminKey);
        using var client = _host.ClientFor(PausedKey);
        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync("/admin/tenants/paused/pause", null)).StatusCode);

        var calls = new (string Name, Func<Task<HttpResponseMessage>> Call)[]
        {
            ("list files", () => client.GetAsync("/v1/files")),
            ("upload", () => client.PostAsync("/v1/files", FilesHost.Upload(FilesHost.Jsonl(1), "in.jsonl", "batch"))),
            ("retrieve file", () => client.GetAsync("/v1/files/file-" + new string('0', 30))),
            ("list batches", () => client.GetAsync("/v1/batches")),
            ("create batch", () => client.PostAsync("/v1/batches", RelayHost.Json(new { input_file_id = "file-x", endpoint = "/v1/chat/completions", completion_window = "24h" }))),
            ("cancel batch", () => client.PostAsync($"/v1/batches/{ValidBatchId}/cancel", null)),
            ("stream token", () => client.PostAsync($"/v1/streams/{ValidStreamId}/token", null)),
        };
        foreach (var (name, call) in calls)
        {
            using var response = await call();
            Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{name}: {response.StatusCode}");
            Assert.Equal("tenant_paused", (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["code"]);
        }

        Assert.Empty(Directory.GetFileSystemEntries(_files.Path, "*", SearchOption.AllDirectories));
        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync("/admin/tenants/paused/resume", null)).StatusCode);
        using var resumed = await client.GetAsync("/v1/files");
        Assert.Equal(HttpStatusCode.OK, resumed.StatusCode);
    }

    /// <summary>A request body that sends (and flushes) its first half, then waits for a signal before the rest.</summary>
    private sealed class GatedContent : HttpContent
    {
        private readonly byte[] _body;
        private readonly Task _gate;

        public GatedContent(byte[] body, System.Net.Http.Headers.MediaTypeHeaderValue type, Task gate)
        {
            _body = body;
            _gate = gate;
            Headers.ContentType = type;
        }

        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            var half = _body.Length / 2;
            await stream.WriteAsync(_body.AsMemory(0, half));
            await stream.FlushAsync(); // without it the handler would hold the headers and first chunk in its buffer
            await _gate;
            await stream.WriteAsync(_body.AsMemory(half));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false; // chunked, so the server starts before the whole body is there
        }
    }
}

/// <summary>The same RPM accounting on the Redis store (its release script must not undo the request count either).</summary>
public sealed class FilesAdmissionRedisTests : RedisRelay, IDisposable
{
    private const string Key = "sk-admission-rpm-redis-7f3a9c2e5b1d";
    private readonly TempDirectory _files = new();

    protected override (string Key, string? Value)[] Settings() =>
    [
        ("Relay:Tenants:rpm:Keys:0", Key),
        ("Relay:Tenants:rpm:RequestsPerMinute", "4"),
        ("Relay:Files:Path", _files.Path),
    ];

    public void Dispose() => _files.Dispose();

    [Fact]
    public Task Every_files_batches_and_stream_token_call_counts_against_rpm_on_redis() =>
        FilesAdmissionTests.CountsAgainstRpmAsync(Host, Key, "rpm");
}
