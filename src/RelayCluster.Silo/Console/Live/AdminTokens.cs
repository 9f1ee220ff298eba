using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using RelayCluster.Core.Streams;

namespace RelayCluster.Silo.Console.Live;

/// <summary>
/// Short-lived admin tokens for the console's hub connection (<c>/hubs/admin</c>), so the admin key itself never goes
/// into a URL (a browser's WebSocket can pass a token only in the query, which lands in access logs). A token is
/// <c>payload.signature</c>, both base64url: the payload the JSON array <c>["admin.console", "&lt;expires_at&gt;"]</c>,
/// the signature an HMAC-SHA256 under a key derived from the cluster's subscribe-token key (<see cref="StreamTokens"/>)
/// for this scope alone. So one rotation (<c>POST /admin/stream-tokens/rotate</c>) rotates both, and the two kinds are
/// never interchangeable: a subscribe token's signature is under the raw key and its payload has three fields, an
/// admin token's under the derived key with two.
/// </summary>
internal sealed class AdminTokens(StreamTokens streams, TimeProvider time)
{
    /// <summary>How long a token is valid: 10 minutes (the console asks for a new one before reconnecting).</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(10);

    private const string Scope = "admin.console";
    private static readonly byte[] ScopeLabel = Encoding.UTF8.GetBytes("relaycluster-admin-console-tokens");

    /// <summary>A new token, valid for <see cref="Lifetime"/>; its expiry in Unix seconds.</summary>
    public (string Token, long ExpiresAt) Issue()
    {
        var expiresAt = time.GetUtcNow().Add(Lifetime).ToUnixTimeSeconds();
        var payload = JsonSerializer.SerializeToUtf8Bytes(new[] { Scope, expiresAt.ToString(CultureInfo.InvariantCulture) });
        var signature = HMACSHA256.HashData(ScopeKey(streams.Secrets.Current), payload);
        return (Base64Url.EncodeToString(payload) + "." + Base64Url.EncodeToString(signature), expiresAt);
    }

    /// <summary>Whether <paramref name="token"/> is a genuine, unexpired admin token (false for anything else, a subscribe token included).</summary>
    public bool IsValid(string? token)
    {
        var dot = token?.IndexOf('.', StringComparison.Ordinal) ?? -1;
        if (dot <= 0)
        {
            return false;
        }

        try
        {
            var payload = Base64Url.DecodeFromChars(token.AsSpan(0, dot));
            var signature = Base64Url.DecodeFromChars(token.AsSpan(dot + 1));
            var secrets = streams.Secrets;
            if (!SignedWith(secrets.Current, payload, signature) && !(secrets.Previous is { } previous && SignedWith(previous, payload, signature)))
            {
                return false;
            }

            return JsonSerializer.Deserialize<string[]>(payload) is [Scope, var expires]
                && long.TryParse(expires, NumberStyles.None, CultureInfo.InvariantCulture, out var expiresAt)
                && expiresAt > time.GetUtcNow().ToUnixTimeSeconds();
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            return false;
        }
    }

    /// <summary>This scope's own key: an HMAC of a fixed label under the cluster key, so no other token's signature is ever valid here.</summary>
    private static byte[] ScopeKey(byte[] clusterKey) => HMACSHA256.HashData(clusterKey, ScopeLabel);

    private static bool SignedWith(byte[] clusterKey, byte[] payload, byte[] signature) =>
        CryptographicOperations.FixedTimeEquals(signature, HMACSHA256.HashData(ScopeKey(clusterKey), payload));
}
