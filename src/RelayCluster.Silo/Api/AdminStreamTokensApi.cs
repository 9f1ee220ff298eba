using System.Text.Json.Nodes;
using RelayCluster.Core.Streams;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Hosting;
using RelayCluster.Silo.Http;

namespace RelayCluster.Silo.Api;

/// <summary>
/// <c>POST /admin/stream-tokens/rotate</c>: a new random subscribe-token key for the whole cluster. Tokens signed
/// with the key it replaces keep working until they expire (10 minutes); tokens from before the previous rotation
/// stop working, so rotate at most once per token lifetime unless that is the point (a leaked key). Answers
/// <c>{"object":"stream_tokens.rotation","rotated":true}</c>, never a key; 409 <c>secret_configured</c> when the
/// key comes from <c>Relay:Streams:TokenSecret</c> (rotate it there).
/// </summary>
internal static class AdminStreamTokensApi
{
    public static RouteGroupBuilder MapAdminStreamTokensApi(this RouteGroupBuilder admin)
    {
        admin.MapPost("/stream-tokens/rotate", RotateAsync);
        return admin;
    }

    private static async Task<IResult> RotateAsync(HttpContext context, ITokenSecretStore store, StreamTokens tokens)
    {
        if (await store.RotateAsync() is not { } rotated)
        {
            await ErrorResponses.WriteAsync(context, new RelayError(409, new OpenAiError(
                "The subscribe-token secret is configured (Relay:Streams:TokenSecret): rotate it by configuration, moving the old value to "
                + "Relay:Streams:PreviousTokenSecret.", "invalid_request_error", null, "secret_configured"), ShouldRetry: false));
            return Results.Empty;
        }

        tokens.Use(rotated); // at once on this silo; the others reload on the store's notice
        return Results.Json(new JsonObject { ["object"] = "stream_tokens.rotation", ["rotated"] = true });
    }
}
