using System.Globalization;

namespace RelayCluster.Bench;

/// <summary>
/// Redis's own counters over one measured window: the stats are zeroed (CONFIG RESETSTAT: this Redis is
/// the benchmark's own) just before the window and read (INFO) just after it, so every figure belongs
/// to that window and nothing else. Commandstats counts each command a Lua script runs as well as the
/// script call itself, so EVALSHA calls are round trips but the total is not: the trace says which is which.
/// </summary>
internal sealed class RedisStats(string endpoint) : IDisposable
{
    private readonly RespConnection _connection = RespConnection.Open(endpoint, TimeSpan.FromSeconds(5));
    private long _aofBefore;

    public string Endpoint { get; } = endpoint;

    /// <summary>Zeroes the counters; the append-only file's size, which no reset touches, is remembered instead.</summary>
    public void Reset()
    {
        _connection.Call("CONFIG", "RESETSTAT");
        _aofBefore = RedisWindow.Parse((string)_connection.Call("INFO", "persistence")!).AofBytes;
    }

    public RedisWindow Read()
    {
        var window = RedisWindow.Parse((string)_connection.Call("INFO", "stats", "commandstats", "latencystats", "errorstats", "persistence")!);
        // A rewrite (aof_rewrites counts them since the reset) starts the file anew: its growth is unknown then.
        return window with { AofBytes = window.AofRewrites > 0 ? 0 : Math.Max(0, window.AofBytes - _aofBefore) };
    }

    /// <summary>
    /// The floor under any Redis round trip on this machine: sequential PINGs from the generator, timed one
    /// by one (blocking socket calls, no thread hops), while the servers idle.
    /// </summary>
    public Latency Ping(int count)
    {
        var ticks = new List<long>(count);
        for (var i = 0; i < count; i++)
        {
            var start = System.Diagnostics.Stopwatch.GetTimestamp();
            _connection.Call("PING");
            ticks.Add(System.Diagnostics.Stopwatch.GetTimestamp() - start);
        }

        return Latency.Of(ticks)!;
    }

    /// <summary>Sends a command that a MONITOR on another connection will see: the end mark of a trace.</summary>
    public void Echo(string text) => _connection.Call("ECHO", text);

    public void Dispose() => _connection.Dispose();
}

/// <summary>Calls of one command, the microseconds Redis spent in it, and how many failed.</summary>
internal readonly record struct CommandStat(long Calls, long Usec, long Failed)
{
    public static CommandStat operator +(CommandStat a, CommandStat b) => new(a.Calls + b.Calls, a.Usec + b.Usec, a.Failed + b.Failed);
}

/// <summary>Redis-side latency of one command (microseconds, as Redis measures it: execution only, no network).</summary>
internal readonly record struct RedisLatency(double P50, double P99, double P999);

/// <summary>One window's Redis counters, or the sum of several.</summary>
internal sealed record RedisWindow(
    IReadOnlyDictionary<string, CommandStat> Commands, long NetInBytes, long NetOutBytes, long ErrorReplies, RedisLatency? EvalShaLatency,
    long AofBytes = 0, long AofRewrites = 0, long TotalCommandsProcessed = 0)
{
    /// <summary>The benchmark's own commands: never part of what a relay asked for.</summary>
    private static readonly HashSet<string> Ours = ["info", "config|resetstat", "echo", "monitor"];

    /// <summary>Every command the Lua scripts of the Redis store call (src/RelayCluster.Redis/Scripts).</summary>
    public static readonly HashSet<string> CalledByScripts =
    [
        "hmget", "hgetall", "hget", "hset", "hdel", "hincrby", "hlen", "hvals", "hexists", "zadd", "zrem", "zrangebyscore",
        "xadd", "sismember", "sadd", "srem", "del", "publish",
    ];

    public static RedisWindow Empty { get; } = new(new Dictionary<string, CommandStat>(), 0, 0, 0, null);

    public long EvalSha => Commands.GetValueOrDefault("evalsha").Calls + Commands.GetValueOrDefault("eval").Calls;

    public long EvalShaUsec => Commands.GetValueOrDefault("evalsha").Usec + Commands.GetValueOrDefault("eval").Usec;

    /// <summary>Commands no script calls, other than EVALSHA: each is a round trip of its own (PING, SCRIPT LOAD, …).</summary>
    public IEnumerable<KeyValuePair<string, CommandStat>> OtherTopLevel =>
        Commands.Where(c => c.Key is not ("evalsha" or "eval") && !CalledByScripts.Contains(c.Key));

    public static RedisWindow operator +(RedisWindow a, RedisWindow b) => new(
        a.Commands.Keys.Union(b.Commands.Keys).ToDictionary(k => k, k => a.Commands.GetValueOrDefault(k) + b.Commands.GetValueOrDefault(k)),
        a.NetInBytes + b.NetInBytes,
        a.NetOutBytes + b.NetOutBytes,
        a.ErrorReplies + b.ErrorReplies,
        null,
        a.AofBytes + b.AofBytes,
        a.AofRewrites + b.AofRewrites,
        a.TotalCommandsProcessed + b.TotalCommandsProcessed);

    public static RedisWindow Parse(string info)
    {
        var commands = new Dictionary<string, CommandStat>(StringComparer.Ordinal);
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        RedisLatency? evalsha = null;
        foreach (var raw in info.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            var colon = line.IndexOf(':');
            if (line.StartsWith('#') || colon < 0)
            {
                continue;
            }

            var (key, value) = (line[..colon], line[(colon + 1)..]);
            if (key.StartsWith("cmdstat_", StringComparison.Ordinal) && !Ours.Contains(key[8..]))
            {
                var stat = Pairs(value);
                commands[key[8..]] = new CommandStat(Long(stat, "calls"), Long(stat, "usec"), Long(stat, "failed_calls") + Long(stat, "rejected_calls"));
            }
            else if (key == "latency_percentiles_usec_evalsha")
            {
                var p = Pairs(value);
                evalsha = new RedisLatency(Double(p, "p50"), Double(p, "p99"), Double(p, "p99.9"));
            }
            else
            {
                fields[key] = value;
            }
        }

        return new RedisWindow(
            commands, Long(fields, "total_net_input_bytes"), Long(fields, "total_net_output_bytes"), Long(fields, "total_error_replies"), evalsha,
            Long(fields, "aof_current_size"), Long(fields, "aof_rewrites"), Long(fields, "total_commands_processed"));
    }

    private static Dictionary<string, string> Pairs(string value) =>
        value.Split(',').Select(p => p.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);

    private static long Long(Dictionary<string, string> values, string key) =>
        values.TryGetValue(key, out var v) ? long.Parse(v, CultureInfo.InvariantCulture) : 0;

    private static double Double(Dictionary<string, string> values, string key) =>
        values.TryGetValue(key, out var v) ? double.Parse(v, CultureInfo.InvariantCulture) : 0;
}
