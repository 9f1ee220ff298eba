using System.Globalization;

namespace RelayCluster.Redis;

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
