using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using RelayCluster.Core.Metering;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Metering;

/// <summary>The usage report on the embedded store (its ledger: the usage log's lines), and the report API's refusals.</summary>
public sealed class UsageReportTests() : UsageReportContract(new EmbeddedTestStore())
{
    [Fact]
    public async Task Without_the_admin_key_the_report_is_refused()
    {
        using var anonymous = Host.CreateClient();
        using var tenant = Host.ClientFor(Key1);
        foreach (var client in new[] { anonymous, tenant })
        {
            using var report = await client.GetAsync("/admin/usage/report");
            using var compare = await client.PostAsync("/admin/usage/report/compare", RelayHost.Json("""{"prices":{}}"""));
            var expected = client == anonymous ? HttpStatusCode.Unauthorized : HttpStatusCode.Forbidden;
            Assert.Equal((expected, expected), (report.StatusCode, compare.StatusCode));
        }
    }

    [Theory]
    [InlineData("month=2026-13", 400, "month")]
    [InlineData("month=2026-1", 400, "month")]
    [InlineData("month=26-11", 400, "month")]
    [InlineData("month=november", 400, "month")]
    [InlineData("month=", 400, "month")]
    [InlineData("month=%202026-11", 400, "month")]
    [InlineData("month=2026-11%20", 400, "month")]
    [InlineData("month=%2B2026-11", 400, "month")]
    [InlineData("month=2026-11-01", 400, "month")]
    [InlineData("month=0000-01", 400, "month")]
    [InlineData("month=10000-01", 400, "month")]
    [InlineData("month=02026-11", 400, "month")]
    [InlineData("month=%D9%A2%D9%A0%D9%A2%D9%A6-%D9%A1%D9%A1", 400, "month")]
    [InlineData("month=2026-11&month=2026-10", 400, "month")]
    [InlineData("tenant=", 404, null)]
    [InlineData("tenant=nobody", 404, null)]
    [InlineData("tenant=..%2Ft1", 404, null)]
    public async Task A_bad_month_is_a_400_and_an_unknown_tenant_a_404(string query, int status, string? param)
    {
        using var admin = Host.ClientFor(RelayHost.AdminKey);
        using var response = await admin.GetAsync("/admin/usage/report?" + query);
        Assert.Equal(status, (int)response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!;
        Assert.Equal(param, (string?)error["param"]);
    }

    [Theory]
    [InlineData("text/csv", "text/csv")]
    [InlineData("text/csv; charset=utf-8", "text/csv")]
    [InlineData("TEXT/CSV", "text/csv")]
    [InlineData("application/json;q=0.5, text/csv", "text/csv")]
    [InlineData("*/*", "application/json")]
    [InlineData("text/*", "application/json")]
    [InlineData("text/csv;q=0", "application/json")]
    [InlineData("application/json, text/csv;q=0.1", "application/json")]
    [InlineData("text/csv;q=0.2, application/json;q=0.9", "application/json")]
    public async Task The_accept_headers_preference_picks_csv_or_json(string accept, string expected)
    {
        using var admin = Host.ClientFor(RelayHost.AdminKey);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/admin/usage/report");
        Assert.True(request.Headers.TryAddWithoutValidation("Accept", accept));
        using var response = await admin.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expected, response.Content.Headers.ContentType!.MediaType);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(expected == "text/csv", body.StartsWith("tenant,model,", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_month_without_usage_is_an_empty_report_and_the_current_month_is_the_default()
    {
        using var admin = Host.ClientFor(RelayHost.AdminKey);
        var empty = (await admin.GetFromJsonAsync<JsonObject>("/admin/usage/report?month=2001-01"))!;
        Assert.Empty(empty["data"]!.AsArray());
        Assert.Equal(0, (long)empty["totals"]!["requests"]!);
        var current = (await admin.GetFromJsonAsync<JsonObject>("/admin/usage/report"))!;
        Assert.Equal(Money.MonthOf(DateTimeOffset.UtcNow), (string?)current["month"]);
    }

    [Theory]
    [InlineData("""{"prices":{"priced":{"input_per_mtok":1,"output_per_mtok":2}},"bogus":1}""", "bogus", "unknown_parameter")]
    [InlineData("""{}""", "prices", "missing_required_parameter")]
    [InlineData("""{"prices":[]}""", "prices", "invalid_type")]
    [InlineData("""{"prices":{"priced":3}}""", "prices.priced", "invalid_type")]
    [InlineData("""{"prices":{"bad model":{"input_per_mtok":1,"output_per_mtok":2}}}""", "prices", "invalid_value")]
    [InlineData("""{"prices":{"priced":{"output_per_mtok":2}}}""", "prices.priced.input_per_mtok", "missing_required_parameter")]
    [InlineData("""{"prices":{"priced":{"input_per_mtok":1}}}""", "prices.priced.output_per_mtok", "missing_required_parameter")]
    [InlineData("""{"prices":{"priced":{"input_per_mtok":-1,"output_per_mtok":2}}}""", "prices.priced.input_per_mtok", "invalid_value")]
    [InlineData("""{"prices":{"priced":{"input_per_mtok":"1","output_per_mtok":2}}}""", "prices.priced.input_per_mtok", "invalid_type")]
    [InlineData("""{"prices":{"priced":{"input_per_mtok":1,"output_per_mtok":1e400}}}""", "prices.priced.output_per_mtok", "invalid_value")]
    [InlineData("""{"prices":{"priced":{"input_per_mtok":1,"output_per_mtok":2000000}}}""", "prices.priced.output_per_mtok", "invalid_value")]
    [InlineData("""{"prices":{"priced":{"input_per_mtok":1,"output_per_mtok":2,"cached_input_per_mtok":1.5}}}""", "prices.priced.cached_input_per_mtok", "invalid_value")]
    [InlineData("""{"prices":{"priced":{"input_per_mtok":1,"output_per_mtok":2,"cached_input_per_mtok":true}}}""", "prices.priced.cached_input_per_mtok", "invalid_type")]
    [InlineData("""{"prices":{"priced":{"input_per_mtok":1,"output_per_mtok":2,"per_token":1}}}""", "prices.priced.per_token", "unknown_parameter")]
    [InlineData("""{"prices":{},"batch_factor":-0.5}""", "batch_factor", "invalid_value")]
    [InlineData("""{"prices":{},"batch_factor":11}""", "batch_factor", "invalid_value")]
    [InlineData("""{"prices":{},"batch_factor":"0.5"}""", "batch_factor", "invalid_type")]
    [InlineData("""{"prices":{},"month":202611}""", "month", "invalid_type")]
    [InlineData("""{"prices":{},"month":"2026-00"}""", "month", "invalid_value")]
    [InlineData("""{"prices":{},"tenant":7}""", "tenant", "invalid_type")]
    [InlineData("""{"prices":{"priced":{"input_per_mtok":NaN,"output_per_mtok":2}}}""", null, null)]
    [InlineData("""[1]""", null, null)]
    public async Task Every_field_of_a_comparison_is_checked(string body, string? param, string? code)
    {
        using var admin = Host.ClientFor(RelayHost.AdminKey);
        using var response = await admin.PostAsync("/admin/usage/report/compare", RelayHost.Json(body));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!;
        Assert.Equal((param, code), ((string?)error["param"], (string?)error["code"]));
    }

    [Fact]
    public async Task A_comparison_for_an_unknown_tenant_is_a_404()
    {
        using var admin = Host.ClientFor(RelayHost.AdminKey);
        using var response = await admin.PostAsync("/admin/usage/report/compare", RelayHost.Json("""{"prices":{},"tenant":"nobody"}"""));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Records_written_before_lanes_were_kept_read_as_interactive()
    {
        using var directory = new TempDirectory();
        var month = new DateTimeOffset(2026, 10, 3, 0, 0, 0, TimeSpan.Zero);
        File.WriteAllLines(Path.Combine(directory.Path, "usage-2026-10.jsonl"),
        [
            $$"""{"ts":{{month.ToUnixTimeMilliseconds()}},"tenant":"a","request_id":"1","endpoint":"/v1/chat/completions","model":"m","upstream_model":"m","provider":"p","stream":true,"prompt_tokens":10,"completion_tokens":5,"cost_nanos":70,"estimated":false,"ending":"completed","status":200,"latency_ms":1,"ttft_ms":null,"route":null,"route_alternative":null,"attempts":1,"fallbacks":0}""",
            $$"""{"ts":{{month.ToUnixTimeMilliseconds()}},"tenant":"a","request_id":"2","endpoint":"/v1/chat/completions","model":"m","upstream_model":"m","provider":"p","stream":false,"prompt_tokens":4,"completion_tokens":1,"cost_nanos":9,"estimated":false,"ending":"client_disconnected","status":200,"latency_ms":1,"ttft_ms":null,"route":null,"route_alternative":null,"attempts":1,"fallbacks":0,"lane":"batch"}""",
        ]);
        await using var ledger = new JsonlUsageLedger(directory.Path, new ManualClock(month), NullLogger<JsonlUsageLedger>.Instance);

        var slices = (await ledger.GetSlicesAsync("a", "", "2026-10")).ToDictionary(s => s.Lane);
        Assert.Equal((1L, 1L, 10L, 70L, 1L), (slices[UsageLanes.Interactive].Counts.Requests, slices[UsageLanes.Interactive].Counts.StreamedRequests,
            slices[UsageLanes.Interactive].Counts.PromptTokens, slices[UsageLanes.Interactive].Counts.CostNanos, slices[UsageLanes.Interactive].Counts.Ending(Endings.Completed)));
        Assert.Equal((1L, 0L, 4L, 9L, 1L), (slices[UsageLanes.Batch].Counts.Requests, slices[UsageLanes.Batch].Counts.StreamedRequests,
            slices[UsageLanes.Batch].Counts.PromptTokens, slices[UsageLanes.Batch].Counts.CostNanos, slices[UsageLanes.Batch].Counts.Ending(Endings.ClientDisconnected)));
    }
}
