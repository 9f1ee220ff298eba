using System.Runtime.InteropServices;

namespace RelayCluster.Bench;

/// <summary>What the figures were measured on, so runs on different machines are not compared blindly.</summary>
internal static class MachineInfo
{
    public static IEnumerable<string> Describe()
    {
        yield return $"CPU: {CpuModel()} — {Environment.ProcessorCount} logical cores visible to .NET";
        yield return $"Memory: {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024):0.#} GiB";
        yield return $"OS: {RuntimeInformation.OSDescription} ({RuntimeInformation.OSArchitecture})";
        yield return $"Runtime: {RuntimeInformation.FrameworkDescription}";
    }

    private static string CpuModel()
    {
        const string cpuinfo = "/proc/cpuinfo";
        var line = File.Exists(cpuinfo)
            ? File.ReadLines(cpuinfo).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))
            : null;
        return line?.Split(':', 2)[1].Trim() ?? "unknown";
    }
}
