using System.Text;

namespace RelayCluster.Tests.Metering;

/// <summary>A strict RFC 4180 reader for tests: CRLF records, quoted fields with doubled quotes; anything else fails.</summary>
internal static class Csv
{
    public static List<List<string>> Parse(string text)
    {
        var rows = new List<List<string>>();
        var row = new List<string>();
        var field = new StringBuilder();
        var i = 0;
        while (i < text.Length)
        {
            if (text[i] == '"' && field.Length == 0)
            {
                i++;
                while (true)
                {
                    Assert.True(i < text.Length, "unterminated quoted field");
                    if (text[i] == '"')
                    {
                        if (i + 1 < text.Length && text[i + 1] == '"')
                        {
                            field.Append('"');
                            i += 2;
                            continue;
                        }

                        i++;
                        break;
                    }

                    field.Append(text[i++]);
                }

                Assert.True(i == text.Length || text[i] == ',' || text[i] == '\r', $"text after a closing quote at {i}");
                continue;
            }

            switch (text[i])
            {
                case ',':
                    row.Add(field.ToString());
                    field.Clear();
                    i++;
                    break;
                case '\r':
                    Assert.True(i + 1 < text.Length && text[i + 1] == '\n', "a record must end with CRLF");
                    row.Add(field.ToString());
                    field.Clear();
                    rows.Add(row);
                    row = [];
                    i += 2;
                    break;
                default:
                    Assert.NotEqual('\n', text[i]);
                    Assert.NotEqual('"', text[i]);
                    field.Append(text[i++]);
                    break;
            }
        }

        Assert.True(field.Length == 0 && row.Count == 0, "the last record must end with CRLF");
        Assert.All(rows, r => Assert.Equal(rows[0].Count, r.Count));
        return rows;
    }
}
