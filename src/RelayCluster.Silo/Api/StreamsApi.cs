using System.Text.Json.Nodes;
using RelayCluster.Core.Streams;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Http;

namespace RelayCluster.Silo.Api;

/// <summary>
/// <c>POST /v1/streams/{id}/token</c>: a short-lived token that lets a browser subscribe to one stream of the
/// calling tenant. Another tenant's stream, one that does not exist, or a malformed id (<see cref="StreamIds"/>) is the
/// same 404. Admitted by the tenant grain (RPM, concurrency, pause) like a model call.
/// </summary>
public static class StreamsApi
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(10);

    public static IEndpointRouteBuilder MapStreamsApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/streams/{id}/token", IssueAsync)
            .RequireTenantAdmission()
            .RequireIdFormats(IdRule.Path("id", StreamIds.IsValid, NotFound));
        return app;
    }

    private static async Task<IResult> IssueAsync(string id, HttpContext context, IStreamChannelFactory channels, StreamTokens tokens)
    {
        var tenant = context.Tenant();
        if (await channels.GetChannel(id).OwnerAsync() != tenant.Id)
        {
            await ErrorResponses.WriteAsync(context, NotFound(id));
            return Results.Empty;
        }

        var (token, expiresAt) = tokens.Issue(tenant.Id, id, Lifetime);
        return Results.Json(new JsonObject { ["object"] = "stream.token", ["stream_id"] = id, ["token"] = token, ["expires_at"] = expiresAt });
    }

    private static RelayError NotFound(string id) => RelayError.NotFound($"stream '{id}'");
}
