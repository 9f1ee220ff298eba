using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Hostile;

/// <summary>
/// The hostile-input corpus against every endpoint that takes a body, enumerated from the running app's own
/// endpoint table, so a new endpoint is covered the day it is mapped. Each answer must be a 4xx (never a 5xx)
/// with an OpenAI error envelope; no error-level log entry may appear; and neither tenant's quota moves.
/// </summary>
public sealed class HostileCorpusTests : IDisposable
{
    private const string CallerKey = "sk-hostile-caller";
    private const string VictimKey = "sk-hostile-victim";

    /// <summary>Admin calls that read no body: a well-formed call answers 2xx whatever bytes come with it.</summary>
    private static readonly HashSet<string> IgnoresBody = new(StringComparer.Ordinal)
    {
        "POST /admin/tenants/{id}/pause", "POST /admin/tenants/{id}/resume", "POST /admin/tenants/{id}/keys", "POST /admin/tenants/{id}/keys/{keyId}/rotate",
        "POST /admin/stream-tokens/rotate", "POST /admin/console/token",
    };

    private readonly ErrorLog _errors = new();
    private readonly RelayHost _host;

    public HostileCorpusTests() => _host = new RelayHost(
        RelayHost.SimulatorSettings(
            ("Relay:Tenants:caller:Keys:0", CallerKey),
            ("Relay:Tenants:caller:MonthlyBudgetUsd", "0.0001"),
            ("Relay:Tenants:victim:Keys:0", VictimKey),
            ("Relay:Routes:routed:Targets:0:Model", "mock-fast")),
        replaceServices: services => services.AddSingleton<ILoggerProvider>(_errors));

    public void Dispose() => _host.Dispose();

    [Fact]
    public async Task Every_body_endpoint_answers_every_hostile_body_with_a_4xx_envelope_and_moves_no_quota()
    {
        var endpoints = BodyEndpoints();
        Assert.Contains("POST /v1/chat/completions", endpoints);
        Assert.Contains("PATCH /admin/tenants/{id}", endpoints); // the enumeration reaches the admin group too
        var keyId = await VictimKeyIdAsync();
        var fileId = await UploadBatchInputAsync();
        var failures = new List<string>();

        foreach (var endpoint in endpoints)
        {
            foreach (var body in HostileBodies.All)
            {
                var (status, problem) = await SendAsync(endpoint, keyId, Content(body, fileId));
                if (problem is not null || (status is < 400 && !IgnoresBody.Contains(endpoint)))
                {
                    failures.Add($"{endpoint} ← {body.Name}: {status} {problem}");
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
        Assert.Empty(_errors.Entries);
        await AssertQuotaUntouchedAsync("caller");
        await AssertQuotaUntouchedAsync("victim");
        Assert.Equal(0L, (long)(await _host.QuotaAsync("victim"))["requests_in_window"]!); // nothing reached the other tenant
    }

    public static TheoryData<string, string> BadForms => new()
    {
        { "no file part", Form(("purpose", null, "batch")) },
        { "no purpose", Form(("file", "in.jsonl", "{}\n")) },
        { "unknown purpose", Form(("purpose", null, "nonsense"), ("file", "in.jsonl", "{}\n")) },
        { "truncated after a part header", "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.jsonl\"\r\n\r\n{\"a\":" },
        { "no closing boundary", "--b\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n" },
        { "part without headers", "--b\r\n\r\nbatch\r\n--b--\r\n" },
        { "garbage instead of parts", "\u00ff\u00fe not multipart at all" },
    };

    [Theory]
    [MemberData(nameof(BadForms))]
    public async Task Bad_upload_forms_get_a_4xx_envelope(string name, string form)
    {
        var content = new ByteArrayContent(Encoding.Latin1.GetBytes(form));
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("multipart/form-data; boundary=b");

        var (status, problem) = await SendAsync("POST /v1/files", null, content);

        Assert.True(problem is null && status is >= 400 and < 500, $"{name}: {status} {problem}");
        Assert.Empty(_errors.Entries);
        await AssertQuotaUntouchedAsync("caller");
    }

    /// <summary>Every POST, PUT and PATCH the app maps, as "METHOD /pattern"; SignalR's own transport endpoints aside.</summary>
    private List<string> BodyEndpoints() => _host.Services.GetRequiredService<EndpointDataSource>().Endpoints
        .OfType<RouteEndpoint>()
        .Where(e => e.RoutePattern.RawText is { } raw && !raw.StartsWith("/hubs/", StringComparison.Ordinal))
        .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? []).Select(m => $"{m} {e.RoutePattern.RawText}"))
        .Where(e => e.StartsWith("POST ", StringComparison.Ordinal) || e.StartsWith("PUT ", StringComparison.Ordinal) || e.StartsWith("PATCH ", StringComparison.Ordinal))
        .Distinct()
        .Order(StringComparer.Ordinal)
        .ToList();

    /// <summary>Sends to an endpoint with its parameters filled by real ids; returns the status and what is wrong with the answer.</summary>
    private async Task<(int Status, string? Problem)> SendAsync(string endpoint, string? keyId, HttpContent content)
    {
        var (method, pattern) = (endpoint[..endpoint.IndexOf(' ', StringComparison.Ordinal)], endpoint[(endpoint.IndexOf(' ', StringComparison.Ordinal) + 1)..]);
        var path = pattern
            .Replace("{id}", pattern.StartsWith("/admin/tenants", StringComparison.Ordinal) ? "victim" : "batch_0123456789abcdef0123456789abcdef", StringComparison.Ordinal)
            .Replace("{keyId}", keyId ?? "key_none", StringComparison.Ordinal)
            .Replace("{model}", "routed", StringComparison.Ordinal)
            .Replace("{batchId}", "batch_0123456789abcdef0123456789abcdef", StringComparison.Ordinal)
            .Replace("{**id}", "mock-fast", StringComparison.Ordinal);
        using var client = _host.ClientFor(path.StartsWith("/admin", StringComparison.Ordinal) ? RelayHost.AdminKey : CallerKey);
        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = content };
        using var response = await client.SendAsync(request);
        var status = (int)response.StatusCode;
        if (status >= 500)
        {
            return (status, "a server error: " + await response.Content.ReadAsStringAsync());
        }

        return status < 400 ? (status, null) : (status, await EnvelopeProblemAsync(response));
    }

    private static async Task<string?> EnvelopeProblemAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        try
        {
            var error = JsonNode.Parse(text)?["error"];
            return error?["message"] is JsonValue message && message.GetValueKind() == JsonValueKind.String && ((string)message!).Length > 0
                && error["type"] is JsonValue type && type.GetValueKind() == JsonValueKind.String
                ? null
                : "no OpenAI error envelope: " + text;
        }
        catch (JsonException)
        {
            return "not JSON: " + text;
        }
    }

    private async Task<string> VictimKeyIdAsync()
    {
        using var admin = _host.ClientFor(RelayHost.AdminKey);
        var tenant = (await admin.GetFromJsonAsync<JsonObject>("/admin/tenants/victim"))!;
        return (string)tenant["keys"]![0]!["id"]!;
    }

    /// <summary>A valid batch input file of the caller's, so batch bodies fail for their one fault, not a missing file.</summary>
    private async Task<string> UploadBatchInputAsync()
    {
        using var client = _host.ClientFor(CallerKey);
        using var form = new MultipartFormDataContent
        {
            { new StringContent("batch"), "purpose" },
            { new ByteArrayContent(Encoding.UTF8.GetBytes(
                "{\"custom_id\":\"1\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\"mock-fast\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}}\n")),
                "file", "input.jsonl" },
        };
        using var response = await client.PostAsync("/v1/files", form);
        response.EnsureSuccessStatusCode();
        return (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
    }

    private async Task AssertQuotaUntouchedAsync(string tenant)
    {
        // Requests in the window may move: calls that need no parsing (files, batches, stream tokens) are admitted, and
        // so counted against RPM, before their body is read. Nothing else may: no tokens, slot, reservation or spend.
        var quota = await _host.QuotaAsync(tenant);
        Assert.Equal(
            (0L, 0, 0L, 0L),
            ((long)quota["tokens_in_window"]!, (int)quota["in_flight"]!, (long)quota["reserved_nanos"]!, (long)quota["spent_nanos"]!));
    }

    private static ByteArrayContent Content(HostileBody body, string fileId)
    {
        var bytes = body.Bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes(HostileBodies.FileId)) >= 0
            ? Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(body.Bytes).Replace(HostileBodies.FileId, fileId, StringComparison.Ordinal))
            : body.Bytes;
        var content = new ByteArrayContent(bytes);
        if (body.ContentType.Length > 0)
        {
            content.Headers.ContentType = MediaTypeHeaderValue.Parse(body.ContentType);
        }

        return content;
    }

    private static string Form(params (string Name, string? FileName, string Value)[] parts) =>
        string.Concat(parts.Select(p => $"--b\r\nContent-Disposition: form-data; name=\"{p.Name}\"" +
            (p.FileName is null ? "" : $"; filename=\"{p.FileName}\"\r\nContent-Type: application/jsonl") + $"\r\n\r\n{p.Value}\r\n")) + "--b--\r\n";

    /// <summary>Collects error-level log entries (a stack trace at error level is what a hostile body must never cause).</summary>
    private sealed class ErrorLog : ILoggerProvider
    {
        public ConcurrentQueue<string> Entries { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(ErrorLog log, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (IsEnabled(logLevel))
                {
                    log.Entries.Enqueue($"{category}: {formatter(state, exception)} {exception?.GetType().Name}");
                }
            }
        }
    }
}
