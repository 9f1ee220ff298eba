using System.Net;
using Microsoft.Extensions.Configuration;
using RelayCluster.Silo.Telemetry;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Telemetry;

/// <summary>
/// A relay with many tenants: <c>relay.requests</c> has a series per tenant, model, provider, operation, lane, stream,
/// status and ending. OpenTelemetry folds the series past its default limit of 2,000 per metric into one overflow series
/// without those labels, after which per-tenant counts no longer match the ledger.
/// </summary>
[Collection(TelemetryCollection.Name)]
public sealed class MetricCardinalityTests
{
    [Fact]
    public async Task More_than_two_thousand_series_of_a_relay_metric_keep_their_own_labels()
    {
        const int Tenants = 1_050; // x 2 (plain and streamed): 2,100 series of relay.requests
        var prefix = "cx" + Guid.NewGuid().ToString("N")[..6] + "-";
        var settings = new List<(string, string?)>();
        for (var i = 0; i < Tenants; i++)
        {
            settings.Add(($"Relay:Tenants:{prefix}{i}:Keys:0", $"sk-{prefix}{i}-cardinality"));
        }

        using var host = new RelayHost(RelayHost.SimulatorSettings([.. settings]));
        using var admin = host.ClientFor(RelayHost.AdminKey);
        await Parallel.ForEachAsync(Enumerable.Range(0, Tenants), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, token) =>
        {
            using var client = host.ClientFor($"sk-{prefix}{i}-cardinality");
            foreach (var stream in new[] { false, true })
            {
                using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("hi", stream)), token);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                await response.Content.ReadAsStringAsync(token);
            }
        });

        var scraped = (await Eventually.WaitAsync(() => MetricsTests.ScrapeAsync(admin),
            s => s.Sum("relay_requests_total") >= 2 * Tenants))!;
        var ours = scraped.Matching("relay_requests_total")
            .Where(s => s.Labels.TryGetValue("relay_tenant", out var tenant) && tenant.StartsWith(prefix, StringComparison.Ordinal))
            .ToList();
        Assert.DoesNotContain(scraped.Samples, s => s.Labels.ContainsKey("otel_metric_overflow"));
        Assert.Equal(2 * Tenants, ours.Count);
        Assert.Equal(2 * Tenants, ours.Sum(s => s.Value));

        // The latency histograms keep their advised buckets (seconds, from 10 ms).
        Assert.Contains(scraped.Matching("gen_ai_server_request_duration_seconds_bucket"), s => s.Labels.GetValueOrDefault("le") == "0.01");
    }

    [Theory]
    [InlineData("100")]
    [InlineData("2000000")]
    [InlineData("lots")]
    public void A_series_limit_out_of_range_is_refused_naming_the_setting(string value)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection([new("Relay:Metrics:MaxSeriesPerMetric", value)]).Build();
        var error = Assert.Throws<InvalidOperationException>(() => TelemetryPlan.Read(configuration));
        Assert.Contains("Relay:Metrics:MaxSeriesPerMetric", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_series_limit_is_read_from_configuration()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection([new("Relay:Metrics:MaxSeriesPerMetric", "50000")]).Build();
        Assert.Equal(50_000, TelemetryPlan.Read(configuration).MaxSeriesPerMetric);
        Assert.Equal(TelemetryPlan.DefaultMaxSeriesPerMetric, TelemetryPlan.Read(new ConfigurationBuilder().Build()).MaxSeriesPerMetric);
    }
}
