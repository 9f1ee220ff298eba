using StackExchange.Redis;

namespace RelayCluster.Redis;

/// <summary>A hash as a script returns it (HGETALL's flat field, value, field, value… list), read into a dictionary.</summary>
internal static class RedisHashReply
{
    public static Dictionary<string, string> Read(RedisResult[] pairs)
    {
        var fields = new Dictionary<string, string>(pairs.Length / 2, StringComparer.Ordinal);
        for (var i = 0; i + 1 < pairs.Length; i += 2)
        {
            fields[(string)pairs[i]!] = (string)pairs[i + 1]!;
        }

        return fields;
    }
}
