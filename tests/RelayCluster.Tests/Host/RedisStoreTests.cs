using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>The silo on the Redis store: same API, state in Redis, and fail-closed while Redis is away.</summary>
public sealed class RedisStoreTests : RedisRelay
{
    private const string Key = "sk-redis-store-key-7f3a9c2e5b1d";

    protected override (string Key, string? Value)[] Settings() =>
    [
        ("Relay:Tenants:t1:Keys:0", Key),
        ("Relay:Tenants:t1:RequestsPerMinute", "100"),
        ("Relay:Tenants:t1:MonthlyBudgetUsd", "1"),
    ];

    [Fact]
    public async Task Requests_are_admitted_metered_and_ledgered_in_redis()
    {
        using var client = Host.ClientFor(Key);
        using (var plain = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("through redis"))))
        {
            Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
            Assert.Equal("99", plain.Headers.GetValues("x-ratelimit-remaining-requests").Single()); // the seeded limit, read in Lua
        }

        var streamed = await (await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("and a stream", stream: true)))).Content.ReadAsStringAsync();
        Assert.Equal("[DONE]", SseText.DataPayloads(streamed)[^1]);

        var quota = await Host.WaitForIdleAsync("t1");
        var usage = await Host.UsageAsync("t1");
        Assert.Equal(2, (long)quota["requests_in_window"]!);
        Assert.Equal(2, (long)usage["requests"]!);
        Assert.True((long)quota["spent_nanos"]! > 0);
        Assert.Equal((long)quota["spent_nanos"]!, (long)usage["cost_nanos"]!);
        Assert.Equal(2, (long)usage["by_ending"]!["completed"]!);
    }

    [Fact]
    public async Task Without_redis_requests_fail_closed_with_503_and_the_silo_recovers_by_itself()
    {
        using var client = Host.ClientFor(Key);
        using var anonymous = Host.CreateClient();
        (await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("before")))).EnsureSuccessStatusCode();

        Redis.Kill();
        using (var refused = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("during"))))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Equal("1", refused.Headers.GetValues("Retry-After").Single());
            Assert.Equal("store_unavailable", (string?)(await refused.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["code"]);
        }

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await anonymous.GetAsync("/readyz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/healthz")).StatusCode);

        await Redis.RestartAsync();
        var status = await Eventually.WaitAsync(
            async () =>
            {
                using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("after")));
                return response.StatusCode;
            },
            s => s == HttpStatusCode.OK);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/readyz")).StatusCode);
        // Settles are booked after the answer is written (the one that met the outage is retried until Redis is back):
        // wait until both completed calls are booked, then check that the refused one never was.
        await Host.WaitForIdleAsync("t1");
        var usage = await Eventually.WaitAsync(() => Host.UsageAsync("t1"), u => (long)u["by_ending"]!["completed"]! >= 2);
        Assert.Equal(2, (long)usage!["by_ending"]!["completed"]!); // the refused one was never admitted
    }
}
