using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace RelayCluster.Core.Streams;

/// <summary>What a subscribe token grants: one tenant's one stream, until it expires.</summary>
public sealed record StreamGrant(string TenantId, string StreamId, long ExpiresAt);

/// <summary>
/// The keys subscribe tokens are signed with: <see cref="Current"/> signs, and tokens signed with either it or
/// <see cref="Previous"/> (the key before the last rotation) validate, so a rotation does not cut the tokens
/// browsers already hold. Keys are 32 random bytes, or derived from a configured secret text.
/// </summary>
public sealed record TokenSecrets(byte[] Current, byte[]? Previous)
{
    /// <summary>Bytes of a new random key.</summary>
    public const int KeyBytes = 32;

    /// <summary>A fresh random key.</summary>
    public static byte[] NewKey() => RandomNumberGenerator.GetBytes(KeyBytes);

    /// <summary>
    /// Keys from configured secret texts (any length; hashed so every text gives a 32-byte key). The text must be a
    /// secret of its own: tokens are held by browsers, so whatever they are signed with can be attacked offline.
    /// </summary>
    public static TokenSecrets FromText(string current, string? previous = null) =>
        new(Derive(current), string.IsNullOrEmpty(previous) ? null : Derive(previous));

    /// <summary>The next generation: a new current key, this one's current as the previous.</summary>
    public TokenSecrets Rotate(byte[] next) => new(next, Current);

    private static byte[] Derive(string text) => SHA256.HashData(Encoding.UTF8.GetBytes("relaycluster-stream-tokens:" + text));
}

/// <summary>
/// Short-lived subscribe tokens, so browsers never hold tenant keys: <c>payload.signature</c>, both base64url,
/// the signature an HMAC-SHA256 of the payload under the current token key. Every silo holding the same keys
/// accepts the same tokens; the keys are the cluster's own random secret, unrelated to the admin key.
/// </summary>
public sealed class StreamTokens(TokenSecrets secrets, TimeProvider time)
{
    private volatile TokenSecrets _secrets = secrets;

    /// <summary>The keys in use now.</summary>
    public TokenSecrets Secrets => _secrets;

    /// <summary>Switches to new keys (after a rotation, on this silo or another): tokens issued from now on use them.</summary>
    public void Use(TokenSecrets secrets) => _secrets = secrets;

    /// <summary>A token for one tenant's one stream, valid for <paramref name="lifetime"/>; expiry in Unix seconds.</summary>
    public (string Token, long ExpiresAt) Issue(string tenantId, string streamId, TimeSpan lifetime)
    {
        var expiresAt = time.GetUtcNow().Add(lifetime).ToUnixTimeSeconds();
        var payload = JsonSerializer.SerializeToUtf8Bytes(new[] { tenantId, streamId, expiresAt.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        return (Base64Url.EncodeToString(payload) + "." + Base64Url.EncodeToString(HMACSHA256.HashData(_secrets.Current, payload)), expiresAt);
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
            var secrets = _secrets;
            if (!SignedWith(secrets.Current, payload, signature) && !(secrets.Previous is { } previous && SignedWith(previous, payload, signature)))
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

    private static bool SignedWith(byte[] key, byte[] payload, byte[] signature) =>
        CryptographicOperations.FixedTimeEquals(signature, HMACSHA256.HashData(key, payload));
}
