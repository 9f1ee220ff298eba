using RelayCluster.Core.Configuration;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Http;
using RelayCluster.Silo.Streams;

namespace RelayCluster.Silo.Console.Live;

/// <summary>
/// Refuses a <c>/hubs/admin</c> connection without a valid admin token (<see cref="AdminTokens"/>) at the HTTP layer
/// with a 401 envelope, before SignalR sees it: at negotiate (however spelled), and at a connect that skipped negotiation (no connection
/// <c>id</c>), as <see cref="StreamsHubGate"/> does for subscribe tokens (refusing in the hub would log an error per
/// attempt). The admin key is not a token: sent as <c>access_token</c> it is refused with its own message, since a key
/// in a URL ends up in access logs and should be rotated.
/// </summary>
internal sealed class AdminHubGate(RequestDelegate next, AdminTokens tokens, RelayOptions options)
{
    public const string Path = "/hubs/admin";

    public Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        if (!StreamsHubGate.NeedsToken(request, Path) || tokens.IsValid(StreamsHubGate.TokenOf(request)))
        {
            return next(context);
        }

        var keyInUrl = request.Query.TryGetValue("access_token", out var query) && AdminKeys.Matches(options, query.ToString());
        return ErrorResponses.WriteAsync(context, new RelayError(401, new OpenAiError(
            keyInUrl
                ? "The admin key is not accepted in a URL (URLs end up in logs): get an admin token with POST /admin/console/token and pass that."
                : "A valid admin token is required: get one with POST /admin/console/token (admin key) and pass it as SignalR's access token.",
            "invalid_request_error", null, keyInUrl ? "admin_key_in_url" : "invalid_admin_token"), ShouldRetry: false));
    }
}
