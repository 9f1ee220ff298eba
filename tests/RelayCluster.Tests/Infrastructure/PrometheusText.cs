using System.Globalization;
using System.Text;

namespace RelayCluster.Tests.Infrastructure;

/// <summary>
/// A scrape in the Prometheus text exposition format (version 0.0.4), parsed into samples:
/// <c>name{label="value",…} number</c> lines; comments (<c># HELP</c>, <c># TYPE</c>) and blank lines skipped.
/// Label values are unescaped (<c>\\</c>, <c>\"</c>, <c>\n</c>). A line that does not parse throws
/// <see cref="FormatException"/> naming it, so a malformed scrape fails the test rather than reading as zero.
/// </summary>
public sealed class PrometheusText
{
    private PrometheusText(IReadOnlyList<Sample> samples) => Samples = samples;

    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    public IReadOnlyList<Sample> Samples { get; }

    public static PrometheusText Parse(string text)
    {
        var samples = new List<Sample>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            samples.Add(ParseLine(line));
        }

        return new PrometheusText(samples);
    }

    /// <summary>The sum of every sample named <paramref name="name"/> whose labels include all of <paramref name="labels"/>.</summary>
    public double Sum(string name, params (string Label, string Value)[] labels) =>
        Matching(name, labels).Sum(s => s.Value);

    /// <summary>The samples named <paramref name="name"/> whose labels include all of <paramref name="labels"/>.</summary>
    public IEnumerable<Sample> Matching(string name, params (string Label, string Value)[] labels) =>
        Samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Label, out var v) && v == l.Value));

    /// <summary>Every value the label <paramref name="label"/> takes in this scrape.</summary>
    public ISet<string> LabelValues(string label) =>
        Samples.SelectMany(s => s.Labels).Where(l => l.Key == label).Select(l => l.Value).ToHashSet(StringComparer.Ordinal);

    private static Sample ParseLine(string line)
    {
        var i = 0;
        while (i < line.Length && line[i] != '{' && line[i] != ' ')
        {
            i++;
        }

        var name = line[..i];
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (line[i] != '}')
            {
                var eq = line.IndexOf('=', i);
                var label = line[i..eq];
                if (line[eq + 1] != '"')
                {
                    throw new FormatException($"Unquoted label value: {line}");
                }

                var value = new StringBuilder();
                var j = eq + 2;
                for (; line[j] != '"'; j++)
                {
                    if (line[j] == '\\')
                    {
                        j++;
                        value.Append(line[j] switch { 'n' => '\n', var c => c });
                    }
                    else
                    {
                        value.Append(line[j]);
                    }
                }

                labels[label] = value.ToString();
                i = j + 1;
                if (line[i] == ',')
                {
                    i++;
                }
            }

            i++;
        }

        var fields = line[i..].Trim().Split(' ');
        var number = fields[0] switch
        {
            "+Inf" => double.PositiveInfinity,
            "-Inf" => double.NegativeInfinity,
            "NaN" => double.NaN,
            var v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : throw new FormatException($"Bad value: {line}"),
        };
        return new Sample(name, labels, number);
    }
}
