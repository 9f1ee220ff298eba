using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace RelayCluster.Core.Streams;

/// <summary>What a subscribe token grants: one tenant's one stream, until it expires.</summary>
public sealed record StreamGrant(string TenantId, string StreamId, long ExpiresAt);

/// <summary>
/// Short-lived subscribe tokens, so browsers never hold tenant keys: <c>payload.signature</c>, both base64url,
/// the signature an HMAC-SHA256 of the payload. Every silo holding the same secret accepts the same tokens.
/// </summary>
public sealed class StreamTokens(byte[] secret, TimeProvider time)
{
    public static StreamTokens FromSecret(string secret, TimeProvider time) =>
        new(SHA256.HashData(Encoding.UTF8.GetBytes("relaycluster-stream-tokens:" + secret)), time);

    public (string Token, long ExpiresAt) Issue(string tenantId, string streamId, TimeSpan lifetime)
    {
        var expiresAt = time.GetUtcNow().Add(lifetime).ToUnixTimeSeconds();
        var payload = JsonSerializer.SerializeToUtf8Bytes(new[] { tenantId, streamId, expiresAt.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        return (Base64Url.EncodeToString(payload) + "." + Base64Url.EncodeToString(HMACSHA256.HashData(secret, payload)), expiresAt);
    }

    /// <summary>The grant of a genuine, unexpired token; null for anything forged, malformed or expired.</summary>
    public StreamGrant? Validate(string? token)
    {
        var dot = token?.IndexOf('.', StringComparison.Ordinal) ?? -1;
        if (dot <= 0)
        {
            return null;
        }

        try
        {
            var payload = Base64Url.DecodeFromChars(token.AsSpan(0, dot));
            var signature = Base64Url.DecodeFromChars(token.AsSpan(dot + 1));
            if (!CryptographicOperations.FixedTimeEquals(signature, HMACSHA256.HashData(secret, payload)))
            {
                return null;
            }

            var fields = JsonSerializer.Deserialize<string[]>(payload);
            if (fields is not [var tenant, var stream, var expires] || !long.TryParse(expires, out var expiresAt)
                || expiresAt <= time.GetUtcNow().ToUnixTimeSeconds())
            {
                return null;
            }

            return new StreamGrant(tenant, stream, expiresAt);
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            return null;
        }
    }
}
