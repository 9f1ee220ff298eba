using System.Text.Json.Nodes;

namespace RelayCluster.Silo.Console.Live;

/// <summary>
/// <c>POST /admin/console/token</c> (admin key, like all of /admin): an admin token for the admin hub,
/// <c>{"object":"admin.token","token":"…","expires_at":&lt;Unix s&gt;}</c>, valid 10 minutes (see <see cref="AdminTokens"/>).
/// </summary>
internal static class AdminTokenApi
{
    public static RouteGroupBuilder MapAdminConsoleTokenApi(this RouteGroupBuilder admin)
    {
        admin.MapPost("/console/token", (AdminTokens tokens) =>
        {
            var (token, expiresAt) = tokens.Issue();
            return Results.Json(new JsonObject { ["object"] = "admin.token", ["token"] = token, ["expires_at"] = expiresAt });
        });
        return admin;
    }
}
