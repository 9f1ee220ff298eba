using System.CommandLine;

namespace RelayCluster.Cli;

/// <summary>
/// The options every command shares (<c>--url</c>, <c>--admin-key</c>, <c>--api-key</c>, each with its environment
/// variable) and what a command needs to run: the relay client they select and the output.
/// </summary>
public sealed class Cli(CliSession session)
{
    public CliSession Session => session;

    public Output Output { get; } = new(session);

    public Option<string?> Url { get; } = new("--url")
    {
        Description = $"The relay's base URL, with its path prefix if it has one (default: $RELAY_URL, else {RelayCtl.DefaultUrl}).",
        Recursive = true,
    };

    public Option<string?> AdminKey { get; } = new("--admin-key")
    {
        Description = "The admin key (default: $RELAY_ADMIN_KEY). Prefer the variable: a flag shows in the process list.",
        Recursive = true,
    };

    public Option<string?> ApiKey { get; } = new("--api-key")
    {
        Description = "A tenant's API key, for batch submit (default: $RELAY_API_KEY, else $OPENAI_API_KEY).",
        Recursive = true,
    };

    /// <summary>A fresh <c>--json</c> flag for a read command: the server's JSON, verbatim, for scripts.</summary>
    public static Option<bool> JsonOption() => new("--json") { Description = "Print the server's JSON as it is, for scripts." };

    /// <summary>The client for this invocation: the URL and keys from the flags, else the environment.</summary>
    public RelayClient Client(ParseResult parse)
    {
        var url = parse.GetValue(Url) ?? Env("RELAY_URL") ?? RelayCtl.DefaultUrl;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var baseUrl) || baseUrl.Scheme is not ("http" or "https"))
        {
            throw new UsageException($"--url: '{url}' is not an http or https URL");
        }

        if (baseUrl.Query.Length > 0 || baseUrl.Fragment.Length > 0)
        {
            // Every call brings its own path and query: one in the base URL would be dropped without a word.
            throw new UsageException($"--url: '{url}' has a query or fragment; give the relay's base URL (a path prefix is kept)");
        }

        return new RelayClient(session.Http, baseUrl, parse.GetValue(AdminKey) ?? Env("RELAY_ADMIN_KEY"),
            parse.GetValue(ApiKey) ?? Env("RELAY_API_KEY") ?? Env("OPENAI_API_KEY"));
    }

    /// <summary>A path segment: ids are escaped so a stray <c>/</c> or <c>?</c> cannot reach another endpoint.</summary>
    public static string Segment(string value) => Uri.EscapeDataString(value);

    private string? Env(string name) => session.Environment(name) is { Length: > 0 } value ? value : null;
}
