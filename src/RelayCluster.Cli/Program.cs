using System.Text;
using Spectre.Console;

namespace RelayCluster.Cli;

/// <summary>The process entry point: the real terminal, environment and network around <see cref="RelayCtl"/>.</summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        Console.OutputEncoding = Encoding.UTF8;
        var redirected = Console.IsOutputRedirected;
        // Piped or redirected output is for scripts: no ANSI codes, no live redraws, tab-separated rows (plain mode).
        // Spectre.Console honours NO_COLOR by itself when it detects the colour system.
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = redirected ? AnsiSupport.No : AnsiSupport.Detect,
            ColorSystem = redirected ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
            Interactive = redirected ? InteractionSupport.No : InteractionSupport.Detect,
            Out = new AnsiConsoleOutput(Console.Out),
        });
        using var http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) })
        {
            Timeout = TimeSpan.FromSeconds(100),
        };
        var session = new CliSession(console, Console.Error, http, Environment.GetEnvironmentVariable, Plain: redirected);
        return await RelayCtl.RunAsync(args, session);
    }
}
