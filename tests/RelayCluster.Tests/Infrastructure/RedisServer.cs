using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using RelayCluster.Redis;

namespace RelayCluster.Tests.Infrastructure;

/// <summary>
/// A real redis-server (Debian's) on a free loopback port, started for the tests and killed after them.
/// AOF is on, as in production, so restart tests can rely on it.
/// </summary>
public sealed class RedisServer : IAsyncLifetime
{
    private readonly TempDirectory _data = new();
    private Process? _process;

    public int Port { get; private set; }

    public string ConnectionString => $"127.0.0.1:{Port}";

    public RedisConnection Connection { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Port = FreePort();
        await StartProcessAsync();
        Connection = await RedisConnection.ConnectAsync(ConnectionString);
    }

    /// <summary>Stops the server abruptly and starts it again over the same data directory (AOF replay).</summary>
    public async Task RestartAsync()
    {
        Kill();
        await StartProcessAsync();
    }

    /// <summary>Starts the server again after <see cref="Kill"/>, on the same port and data directory.</summary>
    public Task StartAgainAsync() => StartProcessAsync();

    public void Kill()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            _process.WaitForExit();
        }
    }

    public async Task DisposeAsync()
    {
        await Connection.DisposeAsync();
        Kill();
        _process?.Dispose();
        _data.Dispose();
    }

    private async Task StartProcessAsync()
    {
        _process?.Dispose();
        _process = Process.Start(new ProcessStartInfo("redis-server",
            ["--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", _data.Path,
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--protected-mode", "no"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException("redis-server did not start (apt-get install -y redis-server).");
        _process.OutputDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port);
                await client.GetStream().WriteAsync("PING\r\n"u8.ToArray());
                var buffer = new byte[16];
                var read = await client.GetStream().ReadAsync(buffer);
                if (System.Text.Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal))
                {
                    return;
                }
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
            }

            if (DateTime.UtcNow > deadline || _process.HasExited)
            {
                throw new InvalidOperationException("redis-server did not become ready.");
            }

            await Task.Delay(20);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

[CollectionDefinition(Name)]
public sealed class RedisCollection : ICollectionFixture<RedisServer>
{
    public const string Name = "redis";
}
