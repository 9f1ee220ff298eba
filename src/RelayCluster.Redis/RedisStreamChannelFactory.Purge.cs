using System.Globalization;
using RelayCluster.Core.Auth;

namespace RelayCluster.Redis;

/// <summary>
/// A deleted tenant's streams are removed: a SCAN over the channels' meta hashes finds those it owns. Deletes are
/// rare admin acts, so a scan there is cheaper than an index written on every stream's open. (On Redis Cluster the
/// scan would have to visit every primary; this connection talks to one server.) A writer that appends after the
/// purge recreates entries without an owner, which nobody can subscribe to.
/// </summary>
public sealed partial class RedisStreamChannelFactory : ITenantDataPurge
{
    public async Task PurgeAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        await foreach (var meta in RedisScan.KeysAsync(redis, "{s:*}:meta", cancellationToken))
        {
            if ((string?)await redis.HashGetAsync(meta, "tenant") == tenantId)
            {
                var tag = meta[..(meta.IndexOf('}', StringComparison.Ordinal) + 1)];
                await redis.ExecuteAsync("DEL", meta, tag + ":entries");
            }
        }
    }
}

/// <summary>SCAN, page by page, for the purges.</summary>
internal static class RedisScan
{
    public static async IAsyncEnumerable<string> KeysAsync(
        RedisConnection redis, string pattern, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var cursor = "0";
        do
        {
            cancellationToken.ThrowIfCancellationRequested();
            var page = (StackExchange.Redis.RedisResult[])(await redis.ExecuteAsync("SCAN", cursor, "MATCH", pattern, "COUNT", 1000))!;
            cursor = (string)page[0]!;
            foreach (var key in (StackExchange.Redis.RedisResult[])page[1]!)
            {
                yield return (string)key!;
            }
        }
        while (cursor != "0");
    }

    /// <summary>A literal for a SCAN pattern: glob characters escaped, so a tenant id cannot widen the match.</summary>
    public static string Literal(string text) =>
        string.Concat(text.Select(c => c is '*' or '?' or '[' or ']' or '\\' ? "\\" + c.ToString(CultureInfo.InvariantCulture) : c.ToString(CultureInfo.InvariantCulture)));
}
