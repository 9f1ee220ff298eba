namespace RelayCluster.Core;

/// <summary>
/// A small file only its owner may read (a secret kept beside the usage log), replaced whole: written under a temporary
/// name created owner-only (never readable by others, not even for a moment), then renamed over the old one (atomic on a
/// POSIX volume), so a crash leaves the old file or the new one, never a torn one.
/// </summary>
public static class PrivateFile
{
    public static void Replace(string path, string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var temporary = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var file = new StreamWriter(new FileStream(temporary, options)))
        {
            file.Write(content);
        }

        File.Move(temporary, path, overwrite: true);
    }
}
