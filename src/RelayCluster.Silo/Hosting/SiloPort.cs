using System.Net;
using System.Net.Sockets;
using Orleans.Runtime;

namespace RelayCluster.Silo.Hosting;

/// <summary>
/// The Orleans silo port of this process. Orleans cannot pick one itself (a silo port of 0 is refused), so when none is
/// configured a free loopback port is chosen here and held until the silo is about to open its
/// listener: between the choice and the silo's bind nobody else can take it.
/// </summary>
/// <remarks>
/// Candidates are drawn at random from 20000–32767, below the ephemeral ranges of Linux (32768–60999), Windows and macOS
/// (49152–65535), so outgoing connections (the tests open thousands) never compete for them, and two relays starting at
/// once are unlikely to try the same one; a port in use is skipped.
/// </remarks>
internal sealed class SiloPort : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private const int FirstCandidate = 20000;
    private const int LastCandidate = 32767;
    private Socket? _held;

    private SiloPort(int value, Socket? held)
    {
        Value = value;
        _held = held;
    }

    public int Value { get; }

    public static SiloPort From(OrleansOptions options) => options.SiloPort is { } port ? new SiloPort(port, null) : Reserve();

    private static SiloPort Reserve()
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var port = Random.Shared.Next(FirstCandidate, LastCandidate + 1);
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
                // Listening, not just bound: .NET sets SO_REUSEADDR on Unix, and reuse-address sockets may share a port
                // that nobody listens on. Nothing connects to it; closing it leaves no TIME_WAIT behind.
                socket.Listen(1);
                return new SiloPort(port, socket);
            }
            catch (SocketException)
            {
                socket.Dispose(); // in use (or excluded by the system): try another
            }
        }

        throw new InvalidOperationException(
            $"No free loopback port for the Orleans silo in {FirstCandidate}–{LastCandidate}; set {OrleansOptions.SiloPortKey}.");
    }

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(SiloPort), ServiceLifecycleStage.First, _ =>
        {
            Release();
            return Task.CompletedTask;
        });

    public void Dispose() => Release();

    private void Release() => Interlocked.Exchange(ref _held, null)?.Dispose();
}
