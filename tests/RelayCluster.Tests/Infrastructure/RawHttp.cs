using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace RelayCluster.Tests.Infrastructure;

/// <summary>
/// A client on a bare socket, for what HttpClient will not do: send a body slowly or not at all, keep sending after
/// the answer, never read the response.
/// </summary>
public sealed class RawHttp : IAsyncDisposable
{
    private readonly TcpClient _client;

    private RawHttp(TcpClient client)
    {
        _client = client;
        Stream = client.GetStream();
    }

    public NetworkStream Stream { get; }

    public static async Task<RawHttp> ConnectAsync(RelayHost host, int? receiveBuffer = null)
    {
        var address = new Uri(host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        var client = new TcpClient();
        if (receiveBuffer is { } size)
        {
            client.ReceiveBufferSize = size; // set before connecting, so the TCP window stays small
        }

        await client.ConnectAsync(address.Host, address.Port);
        client.NoDelay = true;
        return new RawHttp(client);
    }

    public Task SendAsync(string text) => Stream.WriteAsync(Encoding.UTF8.GetBytes(text)).AsTask();

    /// <summary>Reads one response (head, and a Content-Length body), or fails after <paramref name="timeout"/>.</summary>
    public async Task<(int Status, string Head, string Body)> ReadResponseAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var buffer = new List<byte>();
        var chunk = new byte[4096];
        int headEnd;
        while ((headEnd = IndexOf(buffer, "\r\n\r\n"u8.ToArray())) < 0)
        {
            var read = await Stream.ReadAsync(chunk, cancel.Token);
            if (read == 0)
            {
                throw new IOException("The connection closed before a response head: " + Encoding.UTF8.GetString([.. buffer]));
            }

            buffer.AddRange(chunk.AsSpan(0, read));
        }

        var head = Encoding.UTF8.GetString(buffer.GetRange(0, headEnd).ToArray());
        var length = head.Split("\r\n").Select(l => l.Split(':', 2)).Where(p => p.Length == 2 && p[0].Trim().Equals("content-length", StringComparison.OrdinalIgnoreCase))
            .Select(p => int.Parse(p[1].Trim(), System.Globalization.CultureInfo.InvariantCulture)).FirstOrDefault();
        while (buffer.Count - headEnd - 4 < length)
        {
            var read = await Stream.ReadAsync(chunk, cancel.Token);
            if (read == 0)
            {
                break;
            }

            buffer.AddRange(chunk.AsSpan(0, read));
        }

        var body = Encoding.UTF8.GetString(buffer.GetRange(headEnd + 4, buffer.Count - headEnd - 4).ToArray());
        return (int.Parse(head.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture), head, body);
    }

    public async ValueTask DisposeAsync()
    {
        await Stream.DisposeAsync();
        _client.Dispose();
    }

    private static int IndexOf(List<byte> buffer, byte[] pattern)
    {
        for (var i = 0; i + pattern.Length <= buffer.Count; i++)
        {
            if (pattern.AsSpan().SequenceEqual(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(buffer).Slice(i, pattern.Length)))
            {
                return i;
            }
        }

        return -1;
    }
}
