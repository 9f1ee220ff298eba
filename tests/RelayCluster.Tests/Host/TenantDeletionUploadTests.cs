using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;
using static RelayCluster.Tests.Host.TenantDeletionTests;

namespace RelayCluster.Tests.Host;

/// <summary>The fence for work in flight: an upload that began before its tenant was deleted never lands in the next tenant of the id.</summary>
public sealed class TenantDeletionUploadTests : IDisposable
{
    private const string Key = "sk-upload-in-flight";
    private readonly TempDirectory _files = new();
    private readonly LogCapture _logs = new();
    private readonly RelayHost _host;

    public TenantDeletionUploadTests() => _host = new RelayHost(
        RelayHost.SimulatorSettings(("Relay:Tenants:t1:Keys:0", Key), ("Relay:Files:Path", _files.Path)),
        replaceServices: services => services.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(_logs));

    public void Dispose()
    {
        _host.Dispose();
        _files.Dispose();
    }

    [Fact]
    public async Task An_upload_under_way_when_its_tenant_is_deleted_and_created_again_is_refused_and_leaves_nothing()
    {
        // A raw connection, so the test decides when each byte of the body leaves.
        const string boundary = "held-boundary";
        var head = $"--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
            + $"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"in-flight.jsonl\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            + new string('x', 2048);
        var tail = $"{new string('y', 16)}\r\n--{boundary}--\r\n";
        var address = new Uri(_host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(address.Host, address.Port);
        var stream = tcp.GetStream();
        var request = $"POST /v1/files HTTP/1.1\r\nHost: {address.Authority}\r\nAuthorization: Bearer {Key}\r\nConnection: close\r\n"
            + $"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {head.Length + tail.Length}\r\n\r\n{head}";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        await stream.FlushAsync();

        // The server is staging the file (so the request was authenticated as the old tenant): delete it, create it again.
        var staging = await Eventually.WaitAsync(
            () => Task.FromResult(Directory.GetFiles(_files.Path, "*.upload", SearchOption.AllDirectories).Length), n => n > 0);
        Assert.Equal(1, staging);
        using var admin = _host.ClientFor(RelayHost.AdminKey);
        (await admin.DeleteAsync("/admin/tenants/t1")).EnsureSuccessStatusCode();
        var key = (string)(await CreateAsync(admin, "t1"))["key"]!["key"]!;

        await stream.WriteAsync(Encoding.ASCII.GetBytes(tail));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        var response = await reader.ReadToEndAsync();
        Assert.StartsWith("HTTP/1.1 401", response, StringComparison.Ordinal);
        Assert.Contains("invalid_api_key", response, StringComparison.Ordinal);

        using var fresh = _host.ClientFor(key);
        Assert.Empty((await fresh.GetFromJsonAsync<JsonObject>("/v1/files"))!["data"]!.AsArray());
        Assert.Empty(Directory.GetFiles(_files.Path, "*", SearchOption.AllDirectories));
        // The purge took the staging file's folder with it: disposing the staged upload tolerates that (no
        // DirectoryNotFoundException at Error level). The server closes this Connection: close exchange only once the
        // request has ended, disposal and its logging included, so the read to the end above waited for it.
        Assert.DoesNotContain(_logs.Entries, e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Error);
    }
}
