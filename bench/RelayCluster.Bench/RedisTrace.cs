using System.Security.Cryptography;
using System.Text;

namespace RelayCluster.Bench;

/// <summary>
/// What one relay sent Redis during a short stretch of load, command by command (MONITOR): the round
/// trips (commands from a client), the commands the scripts ran inside Redis (client "lua"), and for every
/// request, found by its id among the script arguments, which tenant turns it cost. Run apart from the
/// measured windows: MONITOR costs Redis time of its own.
/// </summary>
internal sealed record RedisTrace(
    string Phase,
    string Target,
    int Requests,
    int Ok,
    bool Complete,
    IReadOnlyDictionary<string, long> RoundTrips,
    long InsideScripts,
    int RequestsSeen,
    IReadOnlyDictionary<string, int> Patterns)
{
    public long TotalRoundTrips => RoundTrips.Values.Sum();

    /// <summary>
    /// Runs <paramref name="load"/> under MONITOR, then ends the trace with an ECHO of a unique mark on the
    /// stats connection: when the monitor has read that far, it has seen every command of the load.
    /// </summary>
    public static async Task<RedisTrace> RecordAsync(RedisStats stats, IReadOnlyDictionary<string, string> scriptNames, string phase, Target target, Func<SampleSink, Task> load)
    {
        using var monitor = RespConnection.Open(stats.Endpoint, TimeSpan.FromSeconds(5));
        monitor.Call("MONITOR");
        var mark = "bench-trace-end-" + Guid.NewGuid().ToString("N");
        var lines = new List<string>();
        var reader = Task.Factory.StartNew(
            () =>
            {
                // Bounded: a read that waits 5 s for Redis throws, and the trace is reported incomplete.
                while (true)
                {
                    var line = monitor.Read() as string ?? "";
                    if (line.Contains(mark, StringComparison.Ordinal))
                    {
                        return;
                    }

                    lines.Add(line);
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
        var sink = new SampleSink(phase, target);
        await load(sink);
        stats.Echo(mark);
        var complete = true;
        try
        {
            await reader;
        }
        catch (IOException)
        {
            complete = false;
        }

        var result = sink.Summarize("trace");
        return Classify(phase, target.Name, result.Sent, result.Ok, complete, lines, scriptNames);
    }

    /// <summary>
    /// SHA-1 → script name for every Lua script, alone and after the prelude (the tenant turns). The scripts
    /// come from a directory of .lua files, or better from the store's assembly (the running silo's copy of
    /// RelayCluster.Redis.dll), whose embedded scripts are exactly the ones the silo calls.
    /// </summary>
    public static Dictionary<string, string> ScriptNames(string? source)
    {
        var scripts = new Dictionary<string, string>(StringComparer.Ordinal);
        if (source is not null && File.Exists(source) && source.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
        {
            // Only the manifest resources are read: nothing of the assembly runs, and its dependencies are not needed.
            var assembly = System.Reflection.Assembly.LoadFile(Path.GetFullPath(source));
            foreach (var resource in assembly.GetManifestResourceNames().Where(r => r.EndsWith(".lua", StringComparison.Ordinal)))
            {
                using var reader = new StreamReader(assembly.GetManifestResourceStream(resource)!);
                scripts[resource[..^4]] = reader.ReadToEnd();
            }
        }
        else if (source is not null && Directory.Exists(source))
        {
            foreach (var file in Directory.GetFiles(source, "*.lua"))
            {
                scripts[Path.GetFileNameWithoutExtension(file)] = File.ReadAllText(file);
            }
        }

        var prelude = scripts.GetValueOrDefault("prelude", "");
        var names = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, text) in scripts)
        {
            names[Sha1(text)] = name;
            names[Sha1(prelude + "\n" + text)] = name;
        }

        return names;
    }

    private static RedisTrace Classify(string phase, string target, int requests, int ok, bool complete, List<string> lines, IReadOnlyDictionary<string, string> scriptNames)
    {
        var roundTrips = new Dictionary<string, long>(StringComparer.Ordinal);
        var byRequest = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        long insideScripts = 0;
        foreach (var line in lines)
        {
            // 1700000000.123456 [0 127.0.0.1:41234] "EVALSHA" "sha" "9" "key"… "arg"…; commands a script runs show client "lua".
            var open = line.IndexOf('[');
            var close = open < 0 ? -1 : line.IndexOf(']', open);
            if (close < 0)
            {
                continue;
            }

            var client = line[(open + 1)..close].Split(' ', 2).ElementAtOrDefault(1) ?? "";
            var tokens = Tokens(line.AsSpan(close + 1));
            if (tokens.Count == 0)
            {
                continue;
            }

            var command = tokens[0].ToUpperInvariant();
            if (client == "lua")
            {
                insideScripts++;
                continue;
            }

            if (command is not ("EVALSHA" or "EVAL") || tokens.Count < 3 || !int.TryParse(tokens[2], out var keyCount))
            {
                roundTrips[command] = roundTrips.GetValueOrDefault(command) + 1;
                continue;
            }

            var script = command == "EVALSHA" && scriptNames.TryGetValue(tokens[1], out var known) ? known
                : command == "EVALSHA" ? "script " + tokens[1][..Math.Min(8, tokens[1].Length)] : "inline script";
            roundTrips[$"{command} {script}"] = roundTrips.GetValueOrDefault($"{command} {script}") + 1;

            // Tenant turns: ARGV 1–3 are the clock, the month and the reservation lifetime; ARGV 4 is the
            // request id for admit, settle and renew (configure's ARGV 4 is its mode, quota has none).
            var argv = tokens.Skip(3 + keyCount).ToList();
            if (argv.Count >= 4 && script is not ("configure" or "quota"))
            {
                if (!byRequest.TryGetValue(argv[3], out var turns))
                {
                    byRequest[argv[3]] = turns = [];
                }

                turns.Add(script);
            }
        }

        var patterns = byRequest.Values
            .GroupBy(turns => string.Join(" + ", turns.GroupBy(t => t).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => g.Count() == 1 ? g.Key : $"{g.Key} ×{g.Count()}")))
            .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        return new RedisTrace(phase, target, requests, ok, complete, roundTrips, insideScripts, byRequest.Count, patterns);
    }

    /// <summary>The quoted arguments MONITOR prints, unescaped as far as matters here (\" and \\).</summary>
    private static List<string> Tokens(ReadOnlySpan<char> text)
    {
        var tokens = new List<string>();
        var current = new StringBuilder();
        var inside = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (!inside)
            {
                if (c == '"')
                {
                    inside = true;
                    current.Clear();
                }
            }
            else if (c == '\\' && i + 1 < text.Length)
            {
                current.Append(text[++i]);
            }
            else if (c == '"')
            {
                inside = false;
                tokens.Add(current.ToString());
            }
            else
            {
                current.Append(c);
            }
        }

        return tokens;
    }

#pragma warning disable CA5350 // SHA-1 is how Redis names scripts, not a security measure.
    private static string Sha1(string text) => Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(text)));
#pragma warning restore CA5350
}
