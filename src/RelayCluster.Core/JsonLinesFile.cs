using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace RelayCluster.Core;

/// <summary>
/// An append-only file of JSON lines that outlives the process (the embedded store's journals): read whole at start,
/// each line appended and flushed to the disk before the change it records is acknowledged. A torn last line (a crash
/// in the middle of its write) is skipped. Callers serialize their own writes.
/// </summary>
internal static class JsonLinesFile
{
    /// <summary>Every whole line of the file, in order; nothing if <paramref name="path"/> is null or absent.</summary>
    public static IEnumerable<T> Read<T>(string? path, JsonTypeInfo<T> type)
    {
        if (path is null || !File.Exists(path))
        {
            yield break;
        }

        foreach (var line in File.ReadLines(path))
        {
            T? entry;
            try
            {
                entry = line.Length > 0 ? JsonSerializer.Deserialize(line, type) : default;
            }
            catch (JsonException)
            {
                continue; // only the last line can be torn, by a crash in the middle of its write
            }

            if (entry is not null)
            {
                yield return entry;
            }
        }
    }

    /// <summary>Appends one line and flushes it to the disk (a change the caller is told about must survive a power loss too).</summary>
    public static void Append<T>(string? path, T entry, JsonTypeInfo<T> type)
    {
        if (path is null)
        {
            return;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        JsonSerializer.Serialize(stream, entry, type);
        stream.WriteByte((byte)'\n');
        stream.Flush(flushToDisk: true);
    }
}
