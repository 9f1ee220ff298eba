using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace RelayCluster.Bench;

/// <summary>
/// The least of a Redis client that the benchmark needs (INFO, CONFIG RESETSTAT, ECHO, MONITOR): commands
/// out as RESP arrays, replies read back blocking, with a receive timeout so that nothing waits forever.
/// The generator has no NuGet packages, and a real client would only add its own threads to the machine.
/// </summary>
internal sealed class RespConnection : IDisposable
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private RespConnection(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    /// <summary>Connects to <c>host:port</c>; every later read gives up after <paramref name="timeout"/>.</summary>
    public static RespConnection Open(string endpoint, TimeSpan timeout)
    {
        var colon = endpoint.LastIndexOf(':');
        var client = new TcpClient { NoDelay = true, ReceiveTimeout = (int)timeout.TotalMilliseconds, SendTimeout = (int)timeout.TotalMilliseconds };
        client.Connect(endpoint[..colon], int.Parse(endpoint[(colon + 1)..], CultureInfo.InvariantCulture));
        return new RespConnection(client);
    }

    /// <summary>Sends one command and returns its reply: a string, a long, null, or an array of those.</summary>
    public object? Call(params string[] args)
    {
        Send(args);
        return Read();
    }

    public void Send(params string[] args)
    {
        var command = new StringBuilder().Append('*').Append(args.Length).Append("\r\n");
        foreach (var arg in args)
        {
            command.Append('$').Append(Encoding.UTF8.GetByteCount(arg)).Append("\r\n").Append(arg).Append("\r\n");
        }

        _stream.Write(Encoding.UTF8.GetBytes(command.ToString()));
    }

    public object? Read()
    {
        var line = ReadLine();
        return line[0] switch
        {
            '+' => line[1..],
            '-' => throw new InvalidOperationException("Redis: " + line[1..]),
            ':' => long.Parse(line.AsSpan(1), CultureInfo.InvariantCulture),
            '$' => ReadBulk(int.Parse(line.AsSpan(1), CultureInfo.InvariantCulture)),
            '*' => ReadArray(int.Parse(line.AsSpan(1), CultureInfo.InvariantCulture)),
            _ => throw new InvalidOperationException($"Unexpected reply from Redis: '{line}'."),
        };
    }

    public void Dispose() => _client.Dispose();

    private object?[]? ReadArray(int count)
    {
        if (count < 0)
        {
            return null;
        }

        var items = new object?[count];
        for (var i = 0; i < count; i++)
        {
            items[i] = Read();
        }

        return items;
    }

    private string? ReadBulk(int length)
    {
        if (length < 0)
        {
            return null;
        }

        var bytes = new byte[length + 2];
        for (var filled = 0; filled < bytes.Length;)
        {
            if (_start == _end)
            {
                Fill();
            }

            var n = Math.Min(bytes.Length - filled, _end - _start);
            _buffer.AsSpan(_start, n).CopyTo(bytes.AsSpan(filled));
            _start += n;
            filled += n;
        }

        return Encoding.UTF8.GetString(bytes, 0, length);
    }

    private string ReadLine()
    {
        var line = new List<byte>();
        while (true)
        {
            if (_start == _end)
            {
                Fill();
            }

            var span = _buffer.AsSpan(_start, _end - _start);
            var lf = span.IndexOf((byte)'\n');
            if (lf < 0)
            {
                line.AddRange(span);
                _start = _end;
                continue;
            }

            line.AddRange(span[..lf]);
            _start += lf + 1;
            if (line.Count > 0 && line[^1] == '\r')
            {
                line.RemoveAt(line.Count - 1);
            }

            return Encoding.UTF8.GetString([.. line]);
        }
    }

    private void Fill()
    {
        _start = 0;
        _end = _stream.Read(_buffer);
        if (_end == 0)
        {
            throw new IOException("Redis closed the connection.");
        }
    }
}
