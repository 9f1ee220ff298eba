using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Cli;
using RelayCluster.Tests.Infrastructure;
using Spectre.Console;

namespace RelayCluster.Tests.Cli;

/// <summary>
/// One real silo on loopback shared by the relayctl tests (each test uses its own tenants), and a way to run the real
/// command tree in-process against it: plain output captured as text, the exit code returned.
/// </summary>
public sealed class CliRelay : IDisposable
{
    private readonly TempDirectory _files = new();
    private readonly TempDirectory _work = new();

    public CliRelay()
    {
        Host = new RelayHost(RelayHost.SimulatorSettings(
            ("Relay:Models:mock-fast-b:Provider", "sim"), ("Relay:Models:mock-fast-b:InputPerMTok", "0.5"), ("Relay:Models:mock-fast-b:OutputPerMTok", "2"),
            // A slow model and two batch items at a time, so a batch is still running when the test cancels it.
            ("Relay:Providers:slow:Type", "simulator"), ("Relay:Providers:slow:Simulator:TimeToFirstTokenMs", "1500"),
            ("Relay:Batches:MaxConcurrentItems", "2"),
            ("Relay:Models:mock-slow:Provider", "slow"),
            ("Relay:Routes:roll:Active", "blue"),
            ("Relay:Routes:roll:Alternatives:blue:Targets:0:Model", "mock-fast"), ("Relay:Routes:roll:Alternatives:blue:Targets:0:Weight", "95"),
            ("Relay:Routes:roll:Alternatives:blue:Targets:1:Model", "mock-fast-b"), ("Relay:Routes:roll:Alternatives:blue:Targets:1:Weight", "5"),
            ("Relay:Routes:roll:Alternatives:green:Targets:0:Model", "mock-fast"),
            ("Relay:Files:Path", _files.Path), ("Relay:Batches:WorkPath", _work.Path)));
        Http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        Admin = Host.ClientFor(RelayHost.AdminKey);
    }

    public RelayHost Host { get; }

    public HttpClient Http { get; }

    public HttpClient Admin { get; }

    public string Url => Host.Address.ToString().TrimEnd('/');

    /// <summary>Runs relayctl in-process with RELAY_URL and RELAY_ADMIN_KEY set (and RELAY_API_KEY when given).</summary>
    public Task<CliRun> RunAsync(params string[] args) => RunAsync(null, plain: true, args);

    public async Task<CliRun> RunAsync(string? apiKey, bool plain, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No, Out = new AnsiConsoleOutput(output),
        });
        console.Profile.Width = 200;
        var environment = new Dictionary<string, string?>
        {
            ["RELAY_URL"] = Url, ["RELAY_ADMIN_KEY"] = RelayHost.AdminKey, ["RELAY_API_KEY"] = apiKey,
        };
        var session = new CliSession(console, error, Http, name => environment.GetValueOrDefault(name), plain) { PollInterval = TimeSpan.FromMilliseconds(100) };
        var exit = await RelayCtl.RunAsync(args, session);
        return new CliRun(exit, output.ToString(), error.ToString());
    }

    /// <summary>Creates a tenant through the admin API (not the CLI) and returns its first key.</summary>
    public async Task<string> CreateTenantAsync(string id)
    {
        using var response = await Admin.PostAsync("/admin/tenants", RelayHost.Json(new { id }));
        response.EnsureSuccessStatusCode();
        return (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["key"]!["key"]!;
    }

    public void Dispose()
    {
        Admin.Dispose();
        Http.Dispose();
        Host.Dispose();
        _files.Dispose();
        _work.Dispose();
    }
}

/// <summary>One relayctl run: exit code, stdout, stderr; plain stdout read as fields and rows.</summary>
public sealed record CliRun(int Exit, string Out, string Err)
{
    /// <summary><c>name&lt;TAB&gt;value</c> lines (the first value of a repeated name).</summary>
    public Dictionary<string, string> Fields() => Lines().Select(l => l.Split('\t')).Where(p => p.Length == 2)
        .GroupBy(p => p[0]).ToDictionary(g => g.Key, g => g.First()[1]);

    /// <summary>A plain table: the header row, then each row as column → value.</summary>
    public List<Dictionary<string, string>> Rows()
    {
        var lines = Lines();
        var header = lines[0].Split('\t');
        return [.. lines.Skip(1).Select(l => l.Split('\t')).Where(c => c.Length == header.Length)
            .Select(c => header.Zip(c).ToDictionary(p => p.First, p => p.Second))];
    }

    /// <summary>The plain table whose header row begins with <paramref name="firstColumn"/> (after fields, say).</summary>
    public List<Dictionary<string, string>> Rows(string firstColumn) =>
        new CliRun(Exit, string.Join('\n', Lines().SkipWhile(l => !l.StartsWith(firstColumn + "\t", StringComparison.Ordinal))), Err).Rows();

    public List<string> Lines() => [.. Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r'))];
}
