using System.Diagnostics;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Cli;

/// <summary>The built relayctl as its own process (the dotnet host running relayctl.dll), against the shared silo.</summary>
[Collection(CliCollection.Name)]
public sealed class RelayCtlProcessTests(CliRelay relay)
{
    [Fact]
    public async Task The_built_tool_prints_plain_rows_when_piped_and_exits_by_outcome()
    {
        var id = "cp" + Guid.NewGuid().ToString("N")[..8];
        await relay.CreateTenantAsync(id);

        var show = await RunAsync("tenants", "show", id);
        Assert.Equal(0, show.Exit);
        Assert.Contains($"id\t{id}\n", show.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b[", show.Out, StringComparison.Ordinal); // piped: no ANSI codes
        Assert.Empty(show.Err);

        var missing = await RunAsync("tenants", "show", "nobody-here");
        Assert.Equal(1, missing.Exit);
        Assert.Equal("error: 404 not_found: No such tenant 'nobody-here'.", missing.Err.Trim());
        Assert.DoesNotContain("   at ", missing.Err, StringComparison.Ordinal); // no stack trace

        Assert.Equal(2, (await RunAsync("tenants", "show")).Exit);
    }

    private async Task<CliRun> RunAsync(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "relayctl.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["RELAY_URL"] = relay.Url;
        start.Environment["RELAY_ADMIN_KEY"] = RelayHost.AdminKey;
        start.Environment["NO_COLOR"] = "1";
        using var process = Process.Start(start)!;
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(timeout.Token);
            return new CliRun(process.ExitCode, await stdout, await stderr);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }
}
