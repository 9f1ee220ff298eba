using System.Globalization;

namespace RelayCluster.Bench;

/// <summary>
/// Where each process's CPU goes, by thread name (/proc/PID/task/TID/stat: .NET names its threads, e.g.
/// ".NET TP Worker", ".NET Sockets"; Redis its bio_* threads), and which other processes (kernel flusher
/// threads, a build elsewhere) used the machine meanwhile. Read around each measured window, outside its
/// timing; /proc counts in 10 ms ticks, so a figure is only as fine as 10 ms over the phase's requests.
/// </summary>
internal sealed class CpuDetail(IEnumerable<(string Name, int Pid)> processes)
{
    public const string Other = "other";
    private const double TicksPerSecond = 100;
    private readonly List<(string Name, int Pid)> _processes = [("generator", Environment.ProcessId), .. processes];

    /// <summary>Cumulative ticks per (group, thread or process id, name): our processes by thread, others by process.</summary>
    public Dictionary<(string Group, int Id, string Comm), long> Read()
    {
        var ticks = new Dictionary<(string, int, string), long>();
        foreach (var (name, pid) in _processes)
        {
            foreach (var task in Ids($"/proc/{pid}/task"))
            {
                if (Stat($"/proc/{pid}/task/{task}/stat") is { } t)
                {
                    ticks[(name, task, t.Comm)] = t.Ticks;
                }
            }
        }

        var ours = _processes.Select(p => p.Pid).ToHashSet();
        foreach (var pid in Ids("/proc").Where(p => !ours.Contains(p)))
        {
            if (Stat($"/proc/{pid}/stat") is { } p)
            {
                ticks[(Other, pid, p.Comm)] = p.Ticks;
            }
        }

        return ticks;
    }

    /// <summary>
    /// CPU between two readings by "group: name"; a thread or process that started meanwhile counts whole.
    /// Matched by id, not name: a kernel worker's name changes with its work queue ("kworker/0:1-events").
    /// </summary>
    public static Dictionary<string, TimeSpan> Delta(Dictionary<(string Group, int Id, string Comm), long> before, Dictionary<(string Group, int Id, string Comm), long> after)
    {
        var earlier = before.ToDictionary(b => (b.Key.Group, b.Key.Id), b => b.Value);
        return after.Select(a => (Key: $"{a.Key.Group}: {Name(a.Key.Comm)}", Ticks: Math.Max(0, a.Value - earlier.GetValueOrDefault((a.Key.Group, a.Key.Id)))))
            .Where(d => d.Ticks > 0)
            .GroupBy(d => d.Key)
            .ToDictionary(g => g.Key, g => TimeSpan.FromSeconds(g.Sum(d => d.Ticks) / TicksPerSecond), StringComparer.Ordinal);
    }

    /// <summary>Kernel threads by kind ("kworker/u8:3-writeback" → "kworker", "jbd2/vda-8" → "jbd2"); others as they are.</summary>
    private static string Name(string comm) => comm.IndexOf('/') is > 0 and var slash ? comm[..slash] : comm;

    private static List<int> Ids(string directory)
    {
        try
        {
            return Directory.EnumerateDirectories(directory)
                .Select(d => int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id : -1)
                .Where(id => id > 0)
                .ToList();
        }
        catch (IOException)
        {
            return [];
        }
        catch (UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>"pid (comm) state … utime stime …": the name, and user + system ticks; null if it is gone.</summary>
    private static (string Comm, long Ticks)? Stat(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        var open = text.IndexOf('(');
        var close = text.LastIndexOf(')');
        if (open < 0 || close < open)
        {
            return null;
        }

        // After the comm: state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15).
        var fields = text[(close + 2)..].Split(' ');
        return fields.Length > 12
            ? (text[(open + 1)..close], long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture))
            : null;
    }
}
