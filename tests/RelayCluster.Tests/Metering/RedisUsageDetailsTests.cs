using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Metering;

/// <summary>The cluster store keeps the normalised output and the usage details in its totals as the embedded one does.</summary>
public sealed class RedisUsageDetailsTests : IAsyncLifetime
{
    private const string Key = "sk-redis-usage-key-4e1b7c9a2d";
    private readonly RedisServer _redis = new();
    private ScriptedUpstream _upstream = null!;
    private RelayHost _host = null!;

    public async Task InitializeAsync()
    {
        await _redis.InitializeAsync();
        _upstream = await ScriptedUpstream.ReportingUsageAsync(body => (JsonObject)JsonNode.Parse((string)body["messages"]![0]!["content"]!)!);
        _host = new RelayHost(RelayHost.SimulatorSettings(
            ("Relay:Store", "redis"), ("Relay:Redis", _redis.ConnectionString),
            ("Relay:Providers:fake:Type", "openai"), ("Relay:Providers:fake:BaseUrl", _upstream.BaseUrl), ("Relay:Providers:fake:ApiKey", "k"),
            ("Relay:Models:priced:Provider", "fake"), ("Relay:Models:priced:InputPerMTok", "2"),
            ("Relay:Models:priced:CachedInputPerMTok", "0.5"), ("Relay:Models:priced:OutputPerMTok", "8"),
            ("Relay:Tenants:t1:Keys:0", Key), ("Relay:Tenants:t1:MonthlyBudgetUsd", "100")));
    }

    public async Task DisposeAsync()
    {
        _host.Dispose();
        await _upstream.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task Reasoning_outside_completion_and_cached_input_are_billed_and_totalled()
    {
        using var client = _host.ClientFor(Key);
        foreach (var (usage, stream) in new[]
        {
            ("""{"prompt_tokens":10,"completion_tokens":2,"total_tokens":1012,"completion_tokens_details":{"reasoning_tokens":1000}}""", true),
            ("""{"prompt_tokens":1000,"completion_tokens":5,"total_tokens":1005,"prompt_tokens_details":{"cached_tokens":800}}""", false),
        })
        {
            using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(new
            {
                model = "priced", stream, messages = new[] { new { role = "user", content = usage } },
            }));
            Assert.Equal(200, (int)response.StatusCode);
            await response.Content.ReadAsStringAsync();
        }

        var expected = (10 * 2000) + (1002 * 8000) + (200 * 2000) + (800 * 500) + (5 * 8000);
        Assert.Equal(expected, (long)(await _host.WaitForIdleAsync("t1"))["spent_nanos"]!);
        var summary = await Eventually.WaitAsync(() => _host.UsageAsync("t1"), s => (long)s["requests"]! == 2);
        Assert.Equal(
            (1010L, 1007L, (long)expected, 800L, 1000L),
            ((long)summary!["prompt_tokens"]!, (long)summary["completion_tokens"]!, (long)summary["cost_nanos"]!, (long)summary["cached_tokens"]!, (long)summary["reasoning_tokens"]!));
    }
}
