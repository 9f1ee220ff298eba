namespace RelayCluster.Core.Configuration;

/// <summary>
/// The embedded demo tenant's key, made once and kept beside the usage log (<c>demo-key</c>, readable by its owner only):
/// the directory remembers the demo tenant across restarts, so the key printed at every start must be the one it holds.
/// </summary>
internal static class DemoKeyFile
{
    public static string LoadOrCreate(string directory)
    {
        var path = Path.Combine(directory, "demo-key");
        if (File.Exists(path) && File.ReadAllText(path).Trim() is { Length: > 0 } kept)
        {
            return kept;
        }

        var key = "sk-demo-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12));
        PrivateFile.Replace(path, key + "\n");
        return key;
    }
}
