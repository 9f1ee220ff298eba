using Spectre.Console;

namespace RelayCluster.Cli;

/// <summary>
/// What a command runs against, passed in so tests run the real command tree in-process: the console it draws on,
/// the writer for error lines (stderr), the HTTP client (no base address: the URL comes from <c>--url</c>), the
/// environment lookup (<c>RELAY_URL</c>, <c>RELAY_ADMIN_KEY</c>, <c>RELAY_API_KEY</c>, <c>OPENAI_API_KEY</c>), and
/// whether output is plain: tab-separated rows with a header, no live redraws and no charts, for scripts and pipes.
/// </summary>
public sealed record CliSession(IAnsiConsole Console, TextWriter Error, HttpClient Http, Func<string, string?> Environment, bool Plain)
{
    /// <summary>How often live commands (<c>quota watch</c>, <c>batch submit --wait</c>) poll the relay.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The raw standard output: server JSON and CSV go through it verbatim (Spectre would wrap long lines).</summary>
    public TextWriter Out => Console.Profile.Out.Writer;
}
