using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace RelayCluster.Cli;

/// <summary>
/// How results reach the terminal. Rich mode (a terminal): Spectre tables, panels and charts. Plain mode (a pipe, a
/// file, a test): one header row then tab-separated rows, or <c>name&lt;TAB&gt;value</c> lines, with no colour, no
/// borders and no redraws, so <c>cut</c>, <c>awk</c> and scripts read it. Server JSON and CSV are printed verbatim in both.
/// </summary>
public sealed class Output(CliSession session)
{
    public bool Plain => session.Plain;

    public IAnsiConsole Console => session.Console;

    /// <summary>The server's body exactly as sent, ending with one line break.</summary>
    public void Verbatim(string body)
    {
        session.Out.Write(body);
        if (!body.EndsWith('\n'))
        {
            session.Out.WriteLine();
        }

        session.Out.Flush();
    }

    public void Table(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows, string? title = null)
    {
        if (Plain)
        {
            session.Out.WriteLine(string.Join('\t', headers));
            foreach (var row in rows)
            {
                session.Out.WriteLine(string.Join('\t', row.Select(PlainCell)));
            }

            session.Out.Flush();
            return;
        }

        Console.Write(BuildTable(headers, rows, title));
    }

    /// <summary>A Spectre table of text cells (never parsed as markup: names may hold brackets).</summary>
    public static Table BuildTable(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows, string? title = null)
    {
        var table = new Table().Border(TableBorder.Rounded);
        if (title is not null)
        {
            table.Title(Markup.Escape(title));
        }

        foreach (var header in headers)
        {
            table.AddColumn(new TableColumn(new Text(header, new Style(decoration: Decoration.Bold))));
        }

        foreach (var row in rows)
        {
            table.AddRow(row.Select(cell => (IRenderable)new Text(cell)).ToArray());
        }

        return table;
    }

    /// <summary>Named values: <c>name&lt;TAB&gt;value</c> lines in plain mode, a two-column grid otherwise.</summary>
    public void Fields(IEnumerable<(string Name, string Value)> fields, string? title = null)
    {
        if (Plain)
        {
            foreach (var (name, value) in fields)
            {
                session.Out.WriteLine($"{name}\t{PlainCell(value)}");
            }

            session.Out.Flush();
            return;
        }

        if (title is not null)
        {
            Console.Write(new Rule(Markup.Escape(title)) { Justification = Justify.Left });
        }

        var grid = new Grid().AddColumn(new GridColumn().NoWrap().PadRight(2)).AddColumn();
        foreach (var (name, value) in fields)
        {
            grid.AddRow(new Text(name, new Style(Color.Grey)), new Text(value));
        }

        Console.Write(grid);
    }

    /// <summary>
    /// A key the relay just made: the only time it is ever shown (the relay keeps a hash). Plain mode puts <c>key_id</c> and
    /// <c>key</c> on stdout and the warning on stderr, so <c>relayctl keys add t | awk '$1=="key"{print $2}'</c> gets the key alone.
    /// </summary>
    public void NewKey(string tenant, JsonObject key)
    {
        var id = Cell(key["id"]);
        var secret = Cell(key["key"]);
        if (Plain)
        {
            Fields([("tenant", tenant), ("key_id", id), ("key", secret)]);
            session.Error.WriteLine("note: this is the only time the key is shown; store it now.");
            return;
        }

        var body = new Rows(
            new Text(secret, new Style(Color.Green, decoration: Decoration.Bold)),
            new Text(""),
            new Text("Shown once: the relay keeps only its hash. Store it now.", new Style(Color.Yellow)));
        Console.Write(new Panel(body) { Header = new PanelHeader(Markup.Escape($" new API key {id} for tenant {tenant} ")), Border = BoxBorder.Double });
    }

    /// <summary>An informational line (what was done); on stderr in plain mode, where stdout is for data.</summary>
    public void Note(string text)
    {
        if (Plain)
        {
            session.Error.WriteLine(text);
            return;
        }

        Console.Write(new Text(text + "\n", new Style(Color.Grey)));
    }

    /// <summary>A JSON value as a cell: strings bare, numbers as the server wrote them, null as <paramref name="nullText"/>, arrays comma-joined.</summary>
    public static string Cell(JsonNode? node, string nullText = "-") => node switch
    {
        null => nullText,
        JsonArray array => string.Join(',', array.Select(n => Cell(n, nullText))),
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        _ => node.ToJsonString(),
    };

    /// <summary>Unix seconds as an ISO 8601 UTC instant; null as "-".</summary>
    public static string Time(JsonNode? unixSeconds) =>
        unixSeconds is JsonValue v && v.TryGetValue<long>(out var s) && s > 0
            ? DateTimeOffset.FromUnixTimeSeconds(s).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)
            : "-";

    // A tab or line break inside a value would split a plain row: never in ids or numbers, but a model pattern could hold one.
    private static string PlainCell(string value) => value.Replace('\t', ' ').ReplaceLineEndings(" ");
}
