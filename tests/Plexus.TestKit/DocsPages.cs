using System.Text.RegularExpressions;

namespace Plexus.TestKit;

/// <summary>
/// The markdown pages under docs/ and their fenced blocks, as every docs test reads them. A block preceded by
/// <c>&lt;!-- illustrative: why --&gt;</c> is one no test runs, and says why; <see cref="Runnable"/> leaves those out, so a
/// test that runs "every sql block of a page" runs exactly the blocks the coverage test counts as run by it.
/// </summary>
public static partial class DocsPages
{
    /// <summary>The docs/ folder of the repository the tests were built from.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>Every page, as a path relative to docs/ with '/' separators (<c>http-api.md</c>, <c>ingest/json.md</c>).</summary>
    public static IReadOnlyList<string> All() =>
        Directory.EnumerateFiles(Root, "*.md", SearchOption.AllDirectories)
            .Select(path => Path.GetRelativePath(Root, path).Replace('\\', '/'))
            .Order(StringComparer.Ordinal)
            .ToList();

    public static string Text(string page) => File.ReadAllText(Path.Combine(Root, page));

    /// <summary>Every fenced block of the page, numbered from 1 in page order.</summary>
    public static IReadOnlyList<DocsBlock> Blocks(string page)
    {
        var blocks = new List<DocsBlock>();
        foreach (Match match in Fence().Matches(Text(page)))
        {
            string? illustrative = match.Groups["why"].Success ? match.Groups["why"].Value.Trim() : null;
            string indent = match.Groups["indent"].Value;
            string body = indent.Length == 0 ? match.Groups["body"].Value : string.Join('\n', match.Groups["body"].Value.Split('\n').Select(line => line.StartsWith(indent, StringComparison.Ordinal) ? line[indent.Length..] : line));
            blocks.Add(new DocsBlock(page, blocks.Count + 1, match.Groups["language"].Value, body, illustrative, match.Groups["file"].Success ? match.Groups["file"].Value : null));
        }

        return blocks;
    }

    /// <summary>The page's blocks in one of the languages that are not marked illustrative: the ones a test must run.</summary>
    public static IReadOnlyList<DocsBlock> Runnable(string page, params string[] languages) =>
        Blocks(page).Where(block => block.Illustrative is null && languages.Contains(block.Language)).ToList();

    /// <summary>
    /// Whether a command's output is what a page shows. The page writes <c>…</c> where the output must vary (an id,
    /// a token, a time): it stands for any text within its line. Trailing spaces are not compared.
    /// </summary>
    public static bool OutputMatches(string expected, string actual)
    {
        string[] wanted = expected.Split('\n');
        string[] got = actual.Split('\n');
        if (wanted.Length != got.Length)
        {
            return false;
        }

        for (int i = 0; i < wanted.Length; i++)
        {
            string line = wanted[i].TrimEnd();
            string pattern = "^" + string.Join(".*?", line.Split('…').Select(Regex.Escape)) + "$";
            if (!Regex.IsMatch(got[i].TrimEnd(), pattern, RegexOptions.None, TimeSpan.FromSeconds(1)))
            {
                return false;
            }
        }

        return true;
    }

    private static string FindRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Plexus.slnx")) && Directory.Exists(Path.Combine(folder.FullName, "docs")))
            {
                return Path.Combine(folder.FullName, "docs");
            }
        }

        // A test output folder copied away from its clone: the pages copied next to the tests.
        return Path.Combine(AppContext.BaseDirectory, "docs");
    }

    // A fence opens at the start of a line, or indented in a list item (``` and a language), and closes at the next
    // line that is only ``` with the same indent. The line right above may mark it illustrative, or name the file it
    // is the content of (a CSV the next command imports): the shell examples' runner writes it there.
    [GeneratedRegex(@"(?:^ *<!-- (?:illustrative:(?<why>[^>]*)|file: (?<file>[\w.-]+) )-->\n)?^(?<indent> *)```(?<language>[\w-]*)\n(?<body>.*?)^\k<indent>```$", RegexOptions.Singleline | RegexOptions.Multiline)]
    private static partial Regex Fence();
}

/// <summary>One fenced block of a docs page; <paramref name="File"/> is the file name a <c>&lt;!-- file: name --&gt;</c> marker gives it.</summary>
public sealed record DocsBlock(string Page, int Index, string Language, string Body, string? Illustrative, string? File = null)
{
    public string FirstLine => Body.Split('\n', 2)[0];

    /// <summary>The body without its last newline, as a test sends it.</summary>
    public string Code => Body.TrimEnd('\n');

    /// <summary>
    /// For a console block: the commands (the lines after <c>$ </c>, continued by a trailing <c>\</c> or a quote
    /// still open, as bash continues them).
    /// </summary>
    public IReadOnlyList<string> Commands =>
        ConsoleLines().Where(line => line.IsCommand).Aggregate(new List<string>(), (commands, line) =>
        {
            if (line.Continues)
            {
                commands[^1] += "\n" + line.Text;
            }
            else
            {
                commands.Add(line.Text);
            }

            return commands;
        });

    /// <summary>For a console block: everything else, the output the page shows.</summary>
    public string Expected => string.Join('\n', ConsoleLines().Where(line => !line.IsCommand).Select(line => line.Text.TrimEnd()));

    public override string ToString() => $"{Page} block {Index} ({(Language.Length == 0 ? "no language" : Language)}): {FirstLine}";

    private IEnumerable<(bool IsCommand, string Text, bool Continues)> ConsoleLines()
    {
        bool continued = false;
        char quote = '\0';
        foreach (string line in Code.Split('\n'))
        {
            if (continued || line.StartsWith("$ ", StringComparison.Ordinal))
            {
                string command = continued ? line : line[2..];
                yield return (true, command, continued);
                quote = OpenQuote(command, quote);
                continued = quote != '\0' || line.EndsWith('\\');
            }
            else
            {
                yield return (false, line, false);
            }
        }
    }

    /// <summary>The quote still open after the line (or <c>\0</c>), given the one open before it.</summary>
    private static char OpenQuote(string line, char open)
    {
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (open == '\0' && c == '#' && (i == 0 || char.IsWhiteSpace(line[i - 1])))
            {
                break; // a comment: its apostrophes quote nothing
            }

            if (open != '\'' && c == '\\')
            {
                i++; // an escaped character, outside quotes or inside double ones
            }
            else if (open == '\0' && c is '\'' or '"')
            {
                open = c;
            }
            else if (c == open)
            {
                open = '\0';
            }
        }

        return open;
    }
}
