using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Wire;

namespace RelayCluster.Upstreams.Anthropic;

/// <summary>
/// Anthropic's Messages API behind the OpenAI contract: the OpenAI request is translated to a Message
/// request, and the answer back to what an OpenAI-compatible upstream would have sent (a chat completion,
/// an OpenAI SSE stream, or an OpenAI error envelope), so the relay treats it as any other upstream.
/// Like the OpenAI provider, it answers at the upstream's headers and never buffers a stream; only
/// connecting is bounded in time.
/// </summary>
public sealed class AnthropicProvider : IUpstreamProvider, IDisposable
{
    private readonly HttpMessageInvoker _http;
    private readonly Uri _messagesUri;
    private readonly string? _apiKey;
    private readonly AnthropicOptions _options;
    private readonly TimeProvider _time;

    /// <param name="propagateTraces">Whether calls carry the trace context (see <see cref="UpstreamTraceContext"/>).</param>
    public AnthropicProvider(string id, ProviderOptions options, TimeProvider time, bool propagateTraces = true)
    {
        Id = id;
        _options = options.Anthropic;
        _time = time;
        _apiKey = string.IsNullOrEmpty(options.ApiKey) ? null : options.ApiKey;

        // Anthropic's SDKs take the base URL without /v1; a base URL written OpenAI-style (…/v1) works too.
        var baseUrl = options.BaseUrl!.TrimEnd('/');
        _messagesUri = new Uri(baseUrl.EndsWith("/v1", StringComparison.Ordinal) ? baseUrl + "/messages" : $"{baseUrl}/{AnthropicWire.MessagesPath}");
        _http = UpstreamHttp.CreateInvoker(options, propagateTraces);
    }

    public string Id { get; }

    public async ValueTask<UpstreamResponse> SendAsync(UpstreamRequest request, CancellationToken cancellationToken)
    {
        if (request.Operation != RelayOperation.ChatCompletions)
        {
            return AnthropicErrors.Unsupported("This model's provider (Anthropic) does not offer embeddings.", "model");
        }

        JsonObject body;
        try
        {
            body = AnthropicRequest.From(request.Body, _options, request.OutputCap);
        }
        catch (AnthropicTranslationException ex)
        {
            return AnthropicErrors.Unsupported(ex.Message, ex.Param);
        }

        using var message = new HttpRequestMessage(HttpMethod.Post, _messagesUri)
        {
            Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body))
            {
                Headers = { ContentType = new MediaTypeHeaderValue("application/json") },
            },
            Version = HttpVersion.Version11,
        };
        if (_apiKey is not null)
        {
            message.Headers.TryAddWithoutValidation("x-api-key", _apiKey);
        }

        message.Headers.TryAddWithoutValidation("anthropic-version", _options.Version);
        message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(request.Stream ? "text/event-stream" : "application/json"));

        var response = await UpstreamHttp.SendAsync(_http, message, cancellationToken);

        try
        {
            if (response.IsSuccessStatusCode && request.Stream)
            {
                var events = await response.Content.ReadAsStreamAsync(cancellationToken);
                var translator = new AnthropicStreamTranslator(Created(), IncludeUsage(request.Body));
                return AnthropicStreamPump.Start(events, response, translator, cancellationToken);
            }

            // A Message and an error are single small documents: read whole, translated whole.
            using (response)
            {
                var answer = await response.Content.ReadAsByteArrayAsync(cancellationToken);
                if (!response.IsSuccessStatusCode)
                {
                    return AnthropicErrors.FromUpstream((int)response.StatusCode, answer, UpstreamHttp.RetryAfterOf(response, _time), UpstreamHttp.ShouldRetryOf(response), _options);
                }

                return AnthropicResponse.ToChatCompletion(answer, Created()) is { } completion
                    ? new UpstreamResponse(200, new MemoryStream(completion, writable: false), null, null)
                    : AnthropicErrors.Unreadable("message");
            }
        }
        catch (Exception ex) when (ex is (HttpRequestException or IOException) && !cancellationToken.IsCancellationRequested)
        {
            response.Dispose();
            throw new UpstreamUnavailableException(ex.Message, ex);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    public void Dispose() => _http.Dispose();

    private long Created() => _time.GetUtcNow().ToUnixTimeSeconds();

    private static bool IncludeUsage(JsonObject body) =>
        body["stream_options"]?["include_usage"] is JsonValue v && v.TryGetValue<bool>(out var include) && include;
}
