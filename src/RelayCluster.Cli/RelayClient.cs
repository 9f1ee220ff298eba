using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RelayCluster.Cli;

/// <summary>Which key a call carries: the admin key (the admin API) or a tenant's API key (files and batches).</summary>
public enum KeyKind
{
    Admin,
    Tenant,
}

/// <summary>
/// The relay over HTTP: one request per call, the key as <c>Authorization: Bearer</c> (never in a URL, never printed),
/// a non-2xx answer turned into a <see cref="RelayApiException"/> and a failure to connect into a
/// <see cref="RelayUnreachableException"/>. Bodies are returned as text so <c>--json</c> and <c>--csv</c> print them
/// exactly as the server sent them.
/// </summary>
public sealed class RelayClient(HttpClient http, Uri baseUrl, string? adminKey, string? apiKey)
{
    public Uri BaseUrl => baseUrl;

    /// <summary>GET, POST, PATCH or DELETE <paramref name="path"/> (with its query) and the body as text.</summary>
    public async Task<string> SendAsync(HttpMethod method, string path, KeyKind key, JsonNode? body = null, string? accept = null, CancellationToken cancellation = default)
    {
        using var request = new HttpRequestMessage(method, Resolve(path));
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        if (accept is not null)
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(accept));
        }

        using var response = await SendAsync(request, key, cancellation);
        var text = await response.Content.ReadAsStringAsync(cancellation);
        var csv = accept == "text/csv" && response.Content.Headers.ContentType?.MediaType == "text/csv";
        return csv ? text : RequireJson(request.RequestUri!, (int)response.StatusCode, response.Content.Headers.ContentType?.MediaType, text);
    }

    /// <summary>GET <paramref name="path"/> and parse the JSON object it answers.</summary>
    public async Task<JsonObject> GetObjectAsync(string path, KeyKind key, CancellationToken cancellation = default) =>
        ParseObject(await SendAsync(HttpMethod.Get, path, key, cancellation: cancellation));

    /// <summary>GET <paramref name="path"/> into <paramref name="target"/> as bytes (a file's content: JSONL is not re-encoded).</summary>
    public async Task DownloadAsync(string path, KeyKind key, Stream target, CancellationToken cancellation = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Resolve(path));
        using var response = await SendAsync(request, key, cancellation);
        await response.Content.CopyToAsync(target, cancellation);
    }

    /// <summary><c>POST /v1/files</c> as multipart form data: <c>purpose</c> and the file under its own name.</summary>
    public async Task<JsonObject> UploadAsync(string fileName, Stream content, string purpose, CancellationToken cancellation = default)
    {
        using var form = new MultipartFormDataContent();
        form.Add(new StringContent(purpose), "purpose");
        var file = new StreamContent(content);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/jsonl");
        form.Add(file, "file", fileName);
        using var request = new HttpRequestMessage(HttpMethod.Post, Resolve("/v1/files")) { Content = form };
        using var response = await SendAsync(request, KeyKind.Tenant, cancellation);
        return ParseObject(RequireJson(request.RequestUri!, (int)response.StatusCode, response.Content.Headers.ContentType?.MediaType,
            await response.Content.ReadAsStringAsync(cancellation)));
    }

    /// <summary>
    /// <paramref name="path"/> (absolute, with its query) under the base URL's own path: a relay behind a proxy at
    /// <c>https://host/relay/</c> is called at <c>/relay/admin/…</c>, where <c>new Uri(base, "/admin/…")</c> would drop the prefix.
    /// </summary>
    private Uri Resolve(string path) => new(baseUrl.GetLeftPart(UriPartial.Authority) + baseUrl.AbsolutePath.TrimEnd('/') + path);

    public static JsonObject ParseObject(string json) =>
        JsonNode.Parse(json) as JsonObject ?? throw new RelayApiException(200, "the relay answered something other than a JSON object");

    /// <summary>
    /// <paramref name="body"/> when it is JSON; else a <see cref="RelayApiException"/> naming the URL and what came back: a
    /// 2xx that is not JSON is not the relay (a proxy's or a web server's page at a wrong <c>--url</c>), and printing it
    /// with exit 0 (<c>--json</c>) or failing on it with a parser's stack trace would both mislead.
    /// </summary>
    private static string RequireJson(Uri url, int status, string? mediaType, string body)
    {
        try
        {
            using var _ = JsonDocument.Parse(body);
            return body;
        }
        catch (JsonException)
        {
            var start = OneLine(body.Length <= 40 ? body : body[..40] + "…");
            throw new RelayApiException(status, $"{status} from {url}: the answer is not JSON ({mediaType ?? "no content type"}: '{start}'); is --url the relay?");
        }
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, KeyKind kind, CancellationToken cancellation)
    {
        var key = kind == KeyKind.Admin
            ? Usable(adminKey, "admin key", "pass --admin-key or set RELAY_ADMIN_KEY")
            : Usable(apiKey, "API key", "pass --api-key or set RELAY_API_KEY (or OPENAI_API_KEY)");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellation);
        }
        catch (HttpRequestException ex) when (ex.StatusCode is null)
        {
            throw new RelayUnreachableException($"cannot connect to {baseUrl}: {ex.Message}", ex);
        }
        catch (TaskCanceledException ex) when (!cancellation.IsCancellationRequested)
        {
            throw new RelayUnreachableException($"no answer from {baseUrl} within {http.Timeout.TotalSeconds:0} s", ex);
        }

        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            throw new RelayApiException((int)response.StatusCode, ErrorLine((int)response.StatusCode, await response.Content.ReadAsStringAsync(cancellation)));
        }
    }

    /// <summary>
    /// The key as a header can carry it, else a usage error (exit 2) before anything is sent: an empty flag
    /// (<c>--admin-key "$UNSET"</c>) is no key, as an empty variable is, and a key with a control character (a line break
    /// read from a file) would otherwise fail inside HttpClient as an unhandled FormatException. The key is never shown.
    /// </summary>
    private static string Usable(string? key, string name, string hint) => key switch
    {
        null or "" => throw new UsageException($"no {name}: {hint}"),
        _ when key.AsSpan().ContainsAnyInRange('\u0000', '\u001f') || key.Contains('\u007f') =>
            throw new UsageException($"the {name} holds a control character (a line break?), which no header can carry"),
        _ => key,
    };

    /// <summary><c>STATUS CODE: MESSAGE</c> from an OpenAI envelope (the code, else the type); else the status and its reason.</summary>
    private static string ErrorLine(int status, string body)
    {
        try
        {
            if (JsonNode.Parse(body)?["error"] is JsonObject error)
            {
                var code = error["code"]?.ToString() ?? error["type"]?.ToString() ?? "error";
                var param = error["param"]?.ToString() is { Length: > 0 } p ? $" (param {p})" : "";
                return $"{status} {code}: {OneLine(error["message"]?.ToString() ?? "")}{param}";
            }
        }
        catch (JsonException)
        {
            // Not an envelope (a proxy's HTML page, say): the status line below says enough.
        }

        var reason = System.Net.HttpStatusCode.IsDefined(typeof(System.Net.HttpStatusCode), status) ? ((System.Net.HttpStatusCode)status).ToString() : "error";
        return $"{status} {reason}";
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();
}
