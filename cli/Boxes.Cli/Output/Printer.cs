using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Boxes.Cli.Output;

/// <summary>
/// Everything a command writes: one JSON document with --json, otherwise Spectre tables (lists) and key/value grids
/// (single objects). Colour and markup only when stdout is a terminal and NO_COLOR is unset.
/// </summary>
public sealed class Printer
{
    private readonly CliIo _io;
    private readonly IAnsiConsole _console;
    private readonly IAnsiConsole _wideConsole;

    public Printer(CliIo io, bool json)
    {
        _io = io;
        Json = json;
        var colour = io.StdoutIsTerminal && !io.NoColor;
        _console = CreateConsole(io.Out, colour, io.StdoutIsTerminal);
        // Single objects carry long URLs with tokens (cdpUrl, terminalUrl): never hard-wrap them, so they copy whole.
        _wideConsole = CreateConsole(io.Out, colour, io.StdoutIsTerminal);
        _wideConsole.Profile.Width = 4096;
    }

    public bool Json { get; }
    public CliIo Io => _io;
    public IAnsiConsole Console => _console;

    /// <param name="fd">The descriptor <paramref name="writer"/> ends up on (1 or 2), for its terminal's size.</param>
    public static IAnsiConsole CreateConsole(TextWriter writer, bool colour, bool interactive, int fd = 1)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            // Spectre cannot tell that our writer is the terminal (it is not Console.Out), so it is told.
            Ansi = colour ? AnsiSupport.Yes : AnsiSupport.No,
            ColorSystem = colour ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = interactive ? InteractionSupport.Yes : InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        // Width and height are always set: left alone, Spectre asks System.Console, whose first use switches the terminal
        // to keypad-transmit mode (see WindowSize). Redirected: wide enough that tables of ids and timestamps do not wrap.
        var size = interactive ? Terminal.WindowSize.Of(fd) : null;
        console.Profile.Width = size?.Cols ?? (interactive ? 80 : 160);
        console.Profile.Height = size?.Rows ?? 24;
        return console;
    }

    /// <summary>Writes <paramref name="value"/> as the single JSON document of this invocation.</summary>
    public void WriteJson<T>(T value) => _io.Out.WriteLine(CliJson.Serialize(value));

    /// <summary>With --json the object itself; otherwise its fields as a key/value grid (nulls left out).</summary>
    public void Object<T>(T value, string? title = null)
    {
        if (Json)
        {
            WriteJson(value);
            return;
        }
        if (title is not null) _wideConsole.Write(new Text(title + "\n", new Style(decoration: Decoration.Bold)));
        var node = CliJson.ToNode(value);
        if (node is not JsonObject obj)
        {
            _wideConsole.WriteLine(Cell(node));
            return;
        }
        // Plain "key  value" lines rather than a Grid: a grid pads every row to its widest value (a long URL), leaving
        // trailing spaces on every line.
        var fields = obj.Where(f => f.Value is not null).ToList();
        var width = fields.Count == 0 ? 0 : fields.Max(f => f.Key.Length);
        foreach (var (key, field) in fields)
            _wideConsole.MarkupLine($"[bold]{Markup.Escape(key.PadRight(width))}[/]  {Markup.Escape(Cell(field))}");
    }

    /// <summary>A table of <paramref name="items"/> showing <paramref name="columns"/> (camelCase field names).</summary>
    public void Table(IEnumerable<JsonNode?> items, IReadOnlyList<string> columns, string? empty = null)
    {
        var rows = items.ToList();
        if (rows.Count == 0)
        {
            if (empty is not null) _console.WriteLine(empty);
            return;
        }
        var table = new Table().Border(TableBorder.Rounded);
        foreach (var column in columns) table.AddColumn(new TableColumn(new Text(column, new Style(decoration: Decoration.Bold))));
        foreach (var row in rows)
        {
            var cells = columns.Select(c => (IRenderable)new Text(row is JsonObject o ? Cell(o[c]) : "")).ToArray();
            table.AddRow(cells);
        }
        _console.Write(table);
    }

    public void Line(string text) => _console.WriteLine(text);

    /// <summary>A highlighted line (the signing secret shown once, where to continue a list).</summary>
    public void Notice(string label, string value)
    {
        _wideConsole.Write(new Text(label + ": ", new Style(Color.Yellow, decoration: Decoration.Bold)));
        _wideConsole.Write(new Text(value + "\n"));
    }

    /// <summary>A field's value as one line of text: strings as they are, arrays comma-separated, objects as compact JSON.</summary>
    public static string Cell(JsonNode? node) => node switch
    {
        null => "",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonValue v => v.ToJsonString(),
        JsonArray a when a.All(i => i is JsonValue) => string.Join(", ", a.Select(Cell)),
        _ => node.ToJsonString(),
    };

    public static string Bytes(long size) => size < 1024
        ? size.ToString(CultureInfo.InvariantCulture) + " B"
        : size < 1024 * 1024 ? (size / 1024.0).ToString("0.#", CultureInfo.InvariantCulture) + " KiB"
        : (size / (1024.0 * 1024)).ToString("0.#", CultureInfo.InvariantCulture) + " MiB";
}
