using System.CommandLine;
using System.Text.Json.Nodes;

namespace RelayCluster.Cli.Commands;

/// <summary><c>keys add|rotate|revoke</c>: a tenant's API keys. A new key is printed once (the relay keeps only its hash).</summary>
internal static class KeysCommands
{
    public static Command Build(Cli cli)
    {
        var keys = new Command("keys", "Add, rotate and revoke a tenant's API keys.");
        keys.Add(Add(cli));
        keys.Add(Rotate(cli));
        keys.Add(Revoke(cli));
        return keys;
    }

    private static Command Add(Cli cli)
    {
        var tenant = new Argument<string>("TENANT") { Description = "The tenant's id." };
        var json = Cli.JsonOption();
        var command = new Command("add", "Make a new API key for the tenant (its other keys keep working).") { tenant, json };
        command.SetAction(async (parse, cancellation) =>
        {
            var id = parse.GetValue(tenant)!;
            var answer = await cli.Client(parse).SendAsync(HttpMethod.Post, $"/admin/tenants/{Cli.Segment(id)}/keys", KeyKind.Admin, cancellation: cancellation);
            PrintKey(cli, parse.GetValue(json), id, answer);
            return 0;
        });
        return command;
    }

    private static Command Rotate(Cli cli)
    {
        var tenant = new Argument<string>("TENANT") { Description = "The tenant's id." };
        var key = new Argument<string>("KEY_ID") { Description = "The key's id (see tenants show), not the key itself." };
        var json = Cli.JsonOption();
        var command = new Command("rotate", "Replace a key with a new one: the old key stops working at once, on every silo.") { tenant, key, json };
        command.SetAction(async (parse, cancellation) =>
        {
            var id = parse.GetValue(tenant)!;
            var answer = await cli.Client(parse).SendAsync(HttpMethod.Post,
                $"/admin/tenants/{Cli.Segment(id)}/keys/{Cli.Segment(parse.GetValue(key)!)}/rotate", KeyKind.Admin, cancellation: cancellation);
            PrintKey(cli, parse.GetValue(json), id, answer);
            cli.Output.Note($"key {parse.GetValue(key)} revoked");
            return 0;
        });
        return command;
    }

    private static Command Revoke(Cli cli)
    {
        var tenant = new Argument<string>("TENANT") { Description = "The tenant's id." };
        var key = new Argument<string>("KEY_ID") { Description = "The key's id (see tenants show)." };
        var json = Cli.JsonOption();
        var command = new Command("revoke", "Revoke a key: it stops working at once, on every silo.") { tenant, key, json };
        command.SetAction(async (parse, cancellation) =>
        {
            var answer = await cli.Client(parse).SendAsync(HttpMethod.Delete,
                $"/admin/tenants/{Cli.Segment(parse.GetValue(tenant)!)}/keys/{Cli.Segment(parse.GetValue(key)!)}", KeyKind.Admin, cancellation: cancellation);
            if (parse.GetValue(json))
            {
                cli.Output.Verbatim(answer);
                return 0;
            }

            var view = RelayClient.ParseObject(answer);
            cli.Output.Fields([("key_id", Output.Cell(view["id"])), ("deleted", Output.Cell(view["deleted"]))]);
            return 0;
        });
        return command;
    }

    private static void PrintKey(Cli cli, bool json, string tenant, string answer)
    {
        if (json)
        {
            cli.Output.Verbatim(answer);
            return;
        }

        cli.Output.NewKey(tenant, RelayClient.ParseObject(answer));
    }
}
