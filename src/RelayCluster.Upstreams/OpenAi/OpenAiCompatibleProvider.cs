using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Wire;

namespace RelayCluster.Upstreams.OpenAi;

/// <summary>
/// Any OpenAI-compatible API over one pooled <see cref="SocketsHttpHandler"/>. Responses are handed on
/// at their headers (<see cref="HttpCompletionOption.ResponseHeadersRead"/>), never buffered, so a stream
/// is relayed as it is produced. Only connecting is bounded in time: a healthy stream may run long.
/// The request headers are strings made once per provider and added unvalidated: the bytes sent are those the typed
/// headers wrote (<c>Content-Type: application/json</c>, <c>Accept</c>, <c>Authorization: Bearer …</c>), without a
/// header object built and formatted again for every call.
/// </summary>
public sealed class OpenAiCompatibleProvider : IUpstreamProvider, IDisposable
{
    private readonly HttpMessageInvoker _http;
    private readonly Uri _chatUri;
    private readonly Uri _embeddingsUri;
    private readonly string? _authorization;
    private readonly TimeProvider _time;

    /// <param name="propagateTraces">Whether calls carry the trace context (see <see cref="UpstreamTraceContext"/>).</param>
    public OpenAiCompatibleProvider(string id, ProviderOptions options, TimeProvider? time = null, bool propagateTraces = true)
    {
        Id = id;
        _time = time ?? TimeProvider.System;
        var baseUrl = options.BaseUrl!.TrimEnd('/') + "/";
        _chatUri = new Uri(new Uri(baseUrl), "chat/completions");
        _embeddingsUri = new Uri(new Uri(baseUrl), "embeddings");
        // As AuthenticationHeaderValue("Bearer", key) writes it; a key it would refuse fails here, at start, as it did.
        _authorization = string.IsNullOrEmpty(options.ApiKey) ? null : new AuthenticationHeaderValue("Bearer", options.ApiKey).ToString();
        _http = UpstreamHttp.CreateInvoker(options, propagateTraces);
    }

    public string Id { get; }

    public async ValueTask<UpstreamResponse> SendAsync(UpstreamRequest request, CancellationToken cancellationToken)
    {
        var content = new ByteArrayContent(BodyOf(request));
        content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        using var message = new HttpRequestMessage(HttpMethod.Post, request.Operation == RelayOperation.ChatCompletions ? _chatUri : _embeddingsUri)
        {
            Content = content,
            Version = HttpVersion.Version11,
        };
        if (_authorization is not null)
        {
            message.Headers.TryAddWithoutValidation("Authorization", _authorization);
        }

        message.Headers.TryAddWithoutValidation("Accept", request.Stream ? "text/event-stream" : "application/json");

        // UpstreamHttp.SendAsync inline: one async frame less per call.
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
            return new UpstreamResponse((int)response.StatusCode, body, UpstreamHttp.RetryAfterOf(response, _time), response)
            {
                ShouldRetry = UpstreamHttp.ShouldRetryOf(response),
            };
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    public void Dispose() => _http.Dispose();

    /// <summary>
    /// The bytes sent: the caller's body rewritten in place when it is known and simple enough, else the rewritten tree
    /// serialized (the tree's model and stream options are the same either way: see <see cref="RelayRequest.PrepareForUpstream"/>).
    /// </summary>
    private static byte[] BodyOf(UpstreamRequest request) =>
        (request.CallerBody.IsEmpty || request.Body["model"] is not JsonValue model || !model.TryGetValue<string>(out var name)
            ? null
            : UpstreamBody.Rewrite(request.CallerBody.Span, name, request.Stream))
        ?? JsonSerializer.SerializeToUtf8Bytes(request.Body);
}
