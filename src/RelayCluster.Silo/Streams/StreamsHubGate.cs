using RelayCluster.Core.Streams;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Http;

namespace RelayCluster.Silo.Streams;

/// <summary>
/// Refuses a <c>/hubs/streams</c> connection without a valid subscribe token at the HTTP layer, with a 401 envelope,
/// before SignalR sees it: at negotiate (however spelled, see <see cref="NeedsToken"/>), and at a connect that skipped
/// negotiation (no connection <c>id</c>). The SignalR clients report that 401 to the caller as such. Refusing later,
/// in the hub's <c>OnConnectedAsync</c>, is logged by SignalR as an error with a stack trace, which would let anyone
/// fill the error log at will. Requests of
/// a negotiated connection (its polls, its WebSocket) pass: the connection was admitted with a valid token, and each
/// subscription checks its own token anyway, so one that expired while connected still cannot open a stream.
/// </summary>
internal sealed class StreamsHubGate(RequestDelegate next, StreamTokens tokens)
{
    public const string Path = "/hubs/streams";

    public Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        if (!NeedsToken(request, Path) || tokens.Validate(TokenOf(request)) is not null)
        {
            return next(context);
        }

        return ErrorResponses.WriteAsync(context, new RelayError(401, new OpenAiError(
            "A valid subscribe token is required: get one with POST /v1/streams/{id}/token and pass it as SignalR's access token.",
            "invalid_request_error", null, "invalid_subscribe_token"), ShouldRetry: false));
    }

    /// <summary>
    /// Whether a request to the hub at <paramref name="hubPath"/> must carry a valid token: every request under it except
    /// one on the hub's own path naming a negotiated connection (<c>id</c>), whose negotiate was gated. Negotiate is
    /// matched by what routing would send there, not by one spelling: routing ignores case and a trailing slash
    /// (<c>/negotiate/</c>, <c>/NEGOTIATE</c>), and negotiate ignores an <c>id</c>, so any sub-path is gated.
    /// </summary>
    public static bool NeedsToken(HttpRequest request, string hubPath) =>
        request.Path.StartsWithSegments(hubPath, StringComparison.OrdinalIgnoreCase, out var rest)
        && ((rest.HasValue && rest.Value != "/") || !request.Query.ContainsKey("id"));

    /// <summary>The subscribe token: the Authorization header, else <c>access_token</c> in the query (browsers' WebSockets).</summary>
    public static string? TokenOf(HttpRequest request) =>
        TenantAuthenticationMiddleware.BearerToken(request) ?? (request.Query.TryGetValue("access_token", out var token) ? token.ToString() : null);
}
