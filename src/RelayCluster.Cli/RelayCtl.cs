using System.CommandLine;
using RelayCluster.Cli.Commands;

namespace RelayCluster.Cli;

/// <summary>
/// relayctl's command tree and its one place for outcomes: parse errors exit 2, a relay error 1, an unreachable relay 3,
/// each as one <c>error: …</c> line on stderr and never a stack trace.
/// </summary>
public static class RelayCtl
{
    public const string DefaultUrl = "http://127.0.0.1:8080";

    /// <summary>Parses <paramref name="args"/>, runs the command against <paramref name="session"/>, returns the exit code.</summary>
    public static async Task<int> RunAsync(string[] args, CliSession session, CancellationToken cancellation = default)
    {
        var cli = new Cli(session);
        var parse = Build(cli).Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
            {
                await session.Error.WriteLineAsync($"error: {error.Message}");
            }

            await session.Error.WriteLineAsync("Run 'relayctl --help' (or 'relayctl COMMAND --help') for usage.");
            return ExitCodes.Usage;
        }

        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration
            {
                Output = session.Out,
                Error = session.Error,
                EnableDefaultExceptionHandler = false,
            }, cancellation);
        }
        catch (UsageException ex)
        {
            return Fail(session, ex.Message, ExitCodes.Usage);
        }
        catch (RelayApiException ex)
        {
            return Fail(session, ex.Line, ExitCodes.ApiError);
        }
        catch (RelayUnreachableException ex)
        {
            return Fail(session, ex.Message, ExitCodes.CannotConnect);
        }
        catch (CommandFailedException ex)
        {
            return Fail(session, ex.Message, ExitCodes.ApiError);
        }
        catch (IOException ex)
        {
            // A local file (batch input, --out) that cannot be read or written.
            return Fail(session, ex.Message, ExitCodes.ApiError);
        }
        catch (UnauthorizedAccessException ex)
        {
            return Fail(session, ex.Message, ExitCodes.ApiError);
        }
    }

    public static RootCommand Build(Cli cli)
    {
        var root = new RootCommand("relayctl: manage a RelayCluster relay (tenants, keys, quotas, usage, routes, batches).")
        {
            cli.Url, cli.AdminKey, cli.ApiKey,
            TenantsCommands.Build(cli),
            KeysCommands.Build(cli),
            QuotaCommands.Build(cli),
            UsageCommands.Build(cli),
            RoutesCommands.Build(cli),
            BatchCommands.Build(cli),
        };
        return root;
    }

    private static int Fail(CliSession session, string line, int code)
    {
        session.Error.WriteLine($"error: {line}");
        return code;
    }
}
