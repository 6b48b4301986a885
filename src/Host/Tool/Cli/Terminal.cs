using Spectre.Console;
using Spectre.Console.Rendering;

namespace GpuAD.Tool.Cli;

/// <summary>Console output: Spectre for tables and progress, plain lines where output is redirected.</summary>
internal static class Terminal
{
    /// <summary>Width of tables when stdout is not a terminal (files and pipes have no width).</summary>
    private const int RedirectedWidth = 160;

    /// <summary>True when stdout is a terminal that can redraw a progress bar.</summary>
    public static bool Interactive => !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

    public static void Configure()
    {
        // Numbers print the same everywhere: 1.5, not 1,5.
        System.Globalization.CultureInfo.DefaultThreadCurrentCulture = System.Globalization.CultureInfo.InvariantCulture;
        System.Globalization.CultureInfo.CurrentCulture = System.Globalization.CultureInfo.InvariantCulture;
        if (GpuAD.Distributed.Communicator.LaunchedByMpirun)
        {
            // mpirun hands each rank a terminal of its own whatever its own output is (a file, a
            // pipe): a rank cannot tell, so it writes what a redirected process writes. Its output
            // bypasses .NET's console, which sets terminal modes with escape sequences on a terminal,
            // and carries no style, which Spectre would set through that console.
            Console.SetOut(new StreamWriter(new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(1, ownsHandle: false), FileAccess.Write)) { AutoFlush = true });
            Console.SetError(new StreamWriter(new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(2, ownsHandle: false), FileAccess.Write)) { AutoFlush = true });
            AnsiConsole.Console = new UnstyledConsole(AnsiConsole.Create(new AnsiConsoleSettings
            {
                Ansi = AnsiSupport.No,
                ColorSystem = ColorSystemSupport.NoColors,
                Interactive = InteractionSupport.No,
                Out = new ForwardedOutput(Console.Out),
            }));
            Plain();
        }
        else if (Console.IsOutputRedirected)
        {
            // Files and pipes get plain text: no escape codes, a fixed width.
            AnsiConsole.Profile.Capabilities.Ansi = false;
            AnsiConsole.Profile.Width = RedirectedWidth;
        }
    }

    /// <summary>Plain text from here on: no escape codes, a fixed width (files, pipes, output forwarded by mpirun).</summary>
    public static void Plain()
    {
        AnsiConsole.Profile.Capabilities.Ansi = false;
        AnsiConsole.Profile.Width = RedirectedWidth;
    }

    /// <summary>Writes a plain line (no markup: shapes such as [2, 3, 3] print as they are).</summary>
    public static void Line(string text = "")
    {
        if (!Quiet) AnsiConsole.WriteLine(text);
    }

    /// <summary>Silences <see cref="Line"/>, <see cref="Heading"/> and <see cref="Verdict"/>: on MPI ranks other than 0.</summary>
    public static bool Quiet { get; set; }

    /// <summary>Writes a line with a bold heading.</summary>
    public static void Heading(string text)
    {
        if (!Quiet) AnsiConsole.Write(new Text(text + Environment.NewLine, new Style(decoration: Decoration.Bold)));
    }

    /// <summary>Writes a verdict line, green or red.</summary>
    public static void Verdict(bool ok, string text)
    {
        if (!Quiet) AnsiConsole.Write(new Text(text + Environment.NewLine, new Style(ok ? Color.Green : Color.Red)));
    }

    /// <summary>A table with plain-text cells.</summary>
    public static Table Table(params string[] columns)
    {
        var table = new Table().Border(TableBorder.Rounded);
        foreach (var c in columns) table.AddColumn(new TableColumn(new Text(c, new Style(decoration: Decoration.Bold))));
        return table;
    }

    /// <summary>Adds a row of plain-text cells.</summary>
    public static void Row(this Table table, params string[] cells) => table.AddRow(cells.Select(c => (IRenderable)new Text(c)).ToArray());

    /// <summary>Runs work item by item, with a progress bar on a terminal and one line per item elsewhere.</summary>
    public static void Progress<TItem>(string title, IReadOnlyList<TItem> items, Func<TItem, string> describe, Action<TItem> work)
    {
        if (!Interactive)
        {
            foreach (var item in items) work(item);
            return;
        }
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(title, maxValue: items.Count);
                foreach (var item in items)
                {
                    task.Description = $"{title}: {Markup.Escape(describe(item))}";
                    work(item);
                    task.Increment(1);
                }
                task.Description = title;
            });
    }

    /// <summary>Formats a relative error.</summary>
    public static string Err(double x) => double.IsNaN(x) ? "NaN" : x.ToString("0.0e+00", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Formats milliseconds.</summary>
    public static string Ms(double ms) => ms.ToString(ms < 10 ? "0.000" : ms < 1000 ? "0.0" : "0", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// A console that writes every segment without its style. Spectre's plain backend (no ANSI)
    /// shows a styled segment through System.Console's colour API, which on a terminal writes
    /// escape sequences to it directly, past <see cref="Console.SetOut"/>; plain segments never
    /// reach that API.
    /// </summary>
    private sealed class UnstyledConsole(IAnsiConsole inner) : IAnsiConsole
    {
        public Profile Profile => inner.Profile;

        public IAnsiConsoleCursor Cursor => inner.Cursor;

        public IAnsiConsoleInput Input => inner.Input;

        public IExclusivityMode ExclusivityMode => inner.ExclusivityMode;

        public RenderPipeline Pipeline => inner.Pipeline;

        /// <summary>Nothing to clear: the output is forwarded text, not a screen.</summary>
        public void Clear(bool home)
        {
        }

        public void Write(IRenderable renderable) => inner.Write(new Unstyled(renderable));
    }

    /// <summary>
    /// Output that Spectre takes for a file, a fixed width wide. Spectre's own output, given
    /// <see cref="Console.Out"/> on a terminal, asks .NET's console about the terminal, and the
    /// console sets the terminal's modes (keypad escape sequences) before it answers.
    /// </summary>
    private sealed class ForwardedOutput(TextWriter writer) : IAnsiConsoleOutput
    {
        public TextWriter Writer => writer;

        public bool IsTerminal => false;

        public int Width => RedirectedWidth;

        public int Height => 24; // nothing is laid out by height: progress and live displays are off

        /// <summary>The writer keeps its own encoding (UTF-8).</summary>
        public void SetEncoding(System.Text.Encoding encoding)
        {
        }
    }

    /// <summary>A renderable's text and line breaks, without styles or control codes.</summary>
    private sealed class Unstyled(IRenderable inner) : IRenderable
    {
        public Measurement Measure(RenderOptions options, int maxWidth) => inner.Measure(options, maxWidth);

        public IEnumerable<Segment> Render(RenderOptions options, int maxWidth) =>
            inner.Render(options, maxWidth)
                .Where(s => !s.IsControlCode)
                .Select(s => s.IsLineBreak ? Segment.LineBreak : new Segment(s.Text));
    }
}
