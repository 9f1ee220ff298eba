using System.Net.Http.Headers;
using System.Text;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Files;

/// <summary>One silo with a file store in a temporary directory, shared by a test class; two tenants.</summary>
public sealed class FilesHost : IDisposable
{
    public const string Key1 = "sk-files-tenant-one";
    public const string Key2 = "sk-files-tenant-two";
    public const long MaxUploadBytes = 4096;

    private readonly TempDirectory _files = new();

    public FilesHost() => Host = new RelayHost(RelayHost.SimulatorSettings(
        ("Relay:Tenants:t1:Keys:0", Key1),
        ("Relay:Tenants:t2:Keys:0", Key2),
        ("Relay:Files:Path", _files.Path),
        ("Relay:Files:MaxUploadBytes", MaxUploadBytes.ToString(System.Globalization.CultureInfo.InvariantCulture))));

    public RelayHost Host { get; }

    public string FilesPath => _files.Path;

    /// <summary>Every file under the store, temporary ones included: what a refused upload must not add to.</summary>
    public List<string> StoredFiles() => Directory.GetFiles(_files.Path, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();

    public static MultipartFormDataContent Upload(byte[] content, string filename, string? purpose, bool purposeFirst = true)
    {
        var form = new MultipartFormDataContent();
        if (purpose is not null && purposeFirst)
        {
            form.Add(new StringContent(purpose), "purpose");
        }

        var file = new ByteArrayContent(content);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, "file", filename);
        if (purpose is not null && !purposeFirst)
        {
            form.Add(new StringContent(purpose), "purpose");
        }

        return form;
    }

    public static byte[] Jsonl(int lines) =>
        Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, lines).Select(i => $"{{\"custom_id\":\"r{i}\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\"}}\n")));

    public void Dispose()
    {
        Host.Dispose();
        _files.Dispose();
    }
}
