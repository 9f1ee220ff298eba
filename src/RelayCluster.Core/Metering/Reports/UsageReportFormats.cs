using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace RelayCluster.Core.Metering.Reports;

/// <summary>
/// A usage report as JSON (snake_case, in OpenAI's list shape) or as CSV (RFC 4180: a header row, then one row per
/// tenant × model, CRLF line ends, a field quoted when it holds a comma, a quote or a line break, quotes doubled).
/// The CSV's text cells (tenant, model) that begin with <c>= + - @</c>, a tab or a carriage return get a leading <c>'</c>
/// (OWASP's advice against CSV injection): a spreadsheet would otherwise open them as formulas, and model names do begin
/// so (Cloudflare's <c>@cf/meta/…</c>; ids like <c>-ops</c>). The JSON keeps every name as it is.
/// </summary>
/// <remarks>
/// JSON: <c>{"object":"usage.report","month":"2026-11","tenant":null|id,"data":[{"object":"usage.report.tenant",
/// "tenant":id,"models":[line...],"totals":line}],"totals":line}</c>; a line holds <c>tenant</c>, <c>model</c> (not on
/// totals), <c>requests</c>, <c>streamed_requests</c>, <c>streamed_share</c> (0..1), <c>batch_requests</c>,
/// <c>batch_share</c>, <c>prompt_tokens</c>, <c>completion_tokens</c>, <c>cached_tokens</c>, <c>total_tokens</c>,
/// <c>avg_prompt_tokens</c>, <c>avg_completion_tokens</c>, <c>avg_total_tokens</c> (per request), <c>cost_usd</c>
/// (exact decimal), <c>cost_nanos</c>, <c>errors</c> (requests not completed) and <c>by_ending</c> (requests per ending).
/// </remarks>
public static class UsageReportFormats
{
    /// <summary>The CSV columns, in order: the JSON line's fields, then one column per ending.</summary>
    public static IReadOnlyList<string> CsvColumns { get; } =
    [
        "tenant", "model", "requests", "streamed_requests", "streamed_share", "batch_requests", "batch_share",
        "prompt_tokens", "completion_tokens", "cached_tokens", "total_tokens", "avg_prompt_tokens", "avg_completion_tokens",
        "avg_total_tokens", "cost_usd", "cost_nanos", "errors", .. Endings.All.Select(e => "ending_" + e),
    ];

    public static byte[] ToJson(UsageReport report, string? tenant)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("object", "usage.report");
            json.WriteString("month", report.Month);
            json.WriteString("tenant", tenant);
            json.WriteStartArray("data");
            foreach (var t in report.Tenants)
            {
                json.WriteStartObject();
                json.WriteString("object", "usage.report.tenant");
                json.WriteString("tenant", t.Tenant);
                json.WriteStartArray("models");
                foreach (var line in t.Models)
                {
                    WriteLine(json, line);
                }

                json.WriteEndArray();
                json.WritePropertyName("totals");
                WriteLine(json, t.Totals);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WritePropertyName("totals");
            WriteLine(json, report.Totals);
            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static string ToCsv(UsageReport report)
    {
        var csv = new StringBuilder(256 + (report.Tenants.Sum(t => t.Models.Count) * 160));
        AppendRow(csv, CsvColumns);
        foreach (var line in report.Tenants.SelectMany(t => t.Models))
        {
            var c = line.Counts;
            AppendRow(csv,
            [
                Text(line.Tenant ?? ""), Text(line.Model ?? ""), Number(c.Requests), Number(c.StreamedRequests), Number(line.StreamedShare),
                Number(line.BatchRequests), Number(line.BatchShare), Number(c.PromptTokens), Number(c.CompletionTokens),
                Number(c.CachedTokens), Number(line.TotalTokens), Number(line.Average(c.PromptTokens)),
                Number(line.Average(c.CompletionTokens)), Number(line.Average(line.TotalTokens)), Number(Money.ToUsd(c.CostNanos)),
                Number(c.CostNanos), Number(c.Errors), .. Endings.All.Select(e => Number(c.Ending(e))),
            ]);
        }

        return csv.ToString();
    }

    /// <summary>One RFC 4180 field: quoted only when it must be.</summary>
    public static string CsvField(string value) =>
        value.AsSpan().IndexOfAny(",\"\r\n") < 0 ? value : "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>A text cell a spreadsheet will not read as a formula: a leading <c>'</c> before <c>= + - @</c>, tab or CR.</summary>
    public static string Text(string value) => value.Length > 0 && value[0] is '=' or '+' or '-' or '@' or '\t' or '\r' ? "'" + value : value;

    private static void AppendRow(StringBuilder csv, IEnumerable<string> fields)
    {
        csv.AppendJoin(',', fields.Select(CsvField));
        csv.Append("\r\n");
    }

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Number(decimal value) => value.ToString(CultureInfo.InvariantCulture);

    private static void WriteLine(Utf8JsonWriter json, UsageReportLine line)
    {
        var c = line.Counts;
        json.WriteStartObject();
        if (line.Tenant is not null)
        {
            json.WriteString("tenant", line.Tenant);
        }

        if (line.Model is not null)
        {
            json.WriteString("model", line.Model);
        }

        json.WriteNumber("requests", c.Requests);
        json.WriteNumber("streamed_requests", c.StreamedRequests);
        json.WriteNumber("streamed_share", line.StreamedShare);
        json.WriteNumber("batch_requests", line.BatchRequests);
        json.WriteNumber("batch_share", line.BatchShare);
        json.WriteNumber("prompt_tokens", c.PromptTokens);
        json.WriteNumber("completion_tokens", c.CompletionTokens);
        json.WriteNumber("cached_tokens", c.CachedTokens);
        json.WriteNumber("total_tokens", line.TotalTokens);
        json.WriteNumber("avg_prompt_tokens", line.Average(c.PromptTokens));
        json.WriteNumber("avg_completion_tokens", line.Average(c.CompletionTokens));
        json.WriteNumber("avg_total_tokens", line.Average(line.TotalTokens));
        json.WriteNumber("cost_usd", Money.ToUsd(c.CostNanos));
        json.WriteNumber("cost_nanos", c.CostNanos);
        json.WriteNumber("errors", c.Errors);
        json.WriteStartObject("by_ending");
        foreach (var (ending, count) in c.Endings)
        {
            json.WriteNumber(ending, count);
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }
}
