using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Wire;

namespace RelayCluster.Upstreams.OpenAi;

/// <summary>
/// Any OpenAI-compatible API over one pooled <see cref="SocketsHttpHandler"/>. Responses are handed on
/// at their headers (<see cref="HttpCompletionOption.ResponseHeadersRead"/>), never buffered, so a stream
/// is relayed as it is produced. Only connecting is bounded in time: a healthy stream may run long.
/// </summary>
public sealed class OpenAiCompatibleProvider : IUpstreamProvider, IDisposable
{
    private readonly HttpMessageInvoker _http;
    private readonly Uri _chatUri;
    private readonly Uri _embeddingsUri;
    private readonly AuthenticationHeaderValue? _authorization;

    public OpenAiCompatibleProvider(string id, ProviderOptions options)
    {
        Id = id;
        var baseUrl = options.BaseUrl!.TrimEnd('/') + "/";
        _chatUri = new Uri(new Uri(baseUrl), "chat/completions");
        _embeddingsUri = new Uri(new Uri(baseUrl), "embeddings");
        _authorization = string.IsNullOrEmpty(options.ApiKey) ? null : new AuthenticationHeaderValue("Bearer", options.ApiKey);
        _http = UpstreamHttp.CreateInvoker(options);
    }

    public string Id { get; }

    public async ValueTask<UpstreamResponse> SendAsync(UpstreamRequest request, CancellationToken cancellationToken)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, request.Operation == RelayOperation.ChatCompletions ? _chatUri : _embeddingsUri)
        {
            Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(request.Body))
            {
                Headers = { ContentType = new MediaTypeHeaderValue("application/json") },
            },
            Version = HttpVersion.Version11,
        };
        message.Headers.Authorization = _authorization;
        message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(request.Stream ? "text/event-stream" : "application/json"));

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(message, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            throw new UpstreamUnavailableException(ex.Message, ex);
        }

        try
        {
            var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            return new UpstreamResponse((int)response.StatusCode, body, RetryAfterOf(response), response)
            {
                ShouldRetry = ShouldRetryOf(response),
            };
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    public void Dispose() => _http.Dispose();

    /// <summary>OpenAI's <c>x-should-retry</c>: an explicit yes or no from the upstream beats the status code.</summary>
    private static bool? ShouldRetryOf(HttpResponseMessage response) =>
        response.Headers.TryGetValues("x-should-retry", out var values) && bool.TryParse(values.FirstOrDefault(), out var value) ? value : null;

    private static TimeSpan? RetryAfterOf(HttpResponseMessage response)
    {
        if (response.Headers.TryGetValues("retry-after-ms", out var ms)
            && double.TryParse(ms.FirstOrDefault(), System.Globalization.CultureInfo.InvariantCulture, out var milliseconds))
        {
            return TimeSpan.FromMilliseconds(milliseconds);
        }

        return response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - DateTimeOffset.UtcNow,
            _ => null,
        };
    }
}
