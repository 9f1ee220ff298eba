using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary><c>POST /v1/batch</c> under its configured limits, and when the caller hangs up.</summary>
public sealed class SyncBatchLimitsTests : IDisposable
{
    private const string Key = "sk-sync-batch-limits";
    private readonly RelayHost _host = new(RelayHost.SimulatorSettings(
        ("Relay:Tenants:t1:Keys:0", Key),
        ("Relay:Tenants:t1:MaxConcurrent", "2"),
        ("Relay:SyncBatch:MaxRequests", "6"),
        ("Relay:SyncBatch:Concurrency", "2"),
        ("Relay:Requests:MaxBodyBytes", "2048")));

    public void Dispose() => _host.Dispose();

    private static StringContent Batch(int count, string content) => RelayHost.Json(new JsonObject
    {
        ["requests"] = new JsonArray([.. Enumerable.Range(0, count).Select(i => JsonNode.Parse((string)RelayHost.Chat($"{content} {i}")))]),
    }.ToJsonString());

    [Fact]
    public async Task The_configured_maximum_is_enforced()
    {
        using var client = _host.ClientFor(Key);
        using var tooMany = await client.PostAsync("/v1/batch", Batch(7, "x"));
        Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);
        var error = (await tooMany.Content.ReadFromJsonAsync<JsonObject>())!["error"]!;
        Assert.Equal("requests", (string?)error["param"]);
        Assert.Contains("maximum length 6", (string?)error["message"], StringComparison.Ordinal);

        using var enough = await client.PostAsync("/v1/batch", Batch(6, "x"));
        Assert.Equal(HttpStatusCode.OK, enough.StatusCode);
    }

    [Fact]
    public async Task Items_run_at_most_the_configured_concurrency_at_a_time()
    {
        // The tenant may hold only 2 calls at once: had the 5 overlapping items started together, 3 would be refused.
        using var client = _host.ClientFor(Key);
        using var response = await client.PostAsync("/v1/batch", Batch(5, "slow [[sim ttft=150 tokens=2]]"));

        var results = (await response.Content.ReadFromJsonAsync<JsonObject>())!["results"]!.AsArray();
        Assert.All(results, r => Assert.Equal(200, (int)r!["status"]!));
    }

    [Fact]
    public async Task A_body_over_the_relays_limit_is_a_413()
    {
        using var client = _host.ClientFor(Key);
        using var response = await client.PostAsync("/v1/batch", Batch(3, new string('a', 1000)));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("request_too_large", (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["code"]);
    }

    [Fact]
    public async Task A_caller_that_hangs_up_cancels_the_items_in_flight_and_each_is_settled_once()
    {
        using var client = _host.DisconnectingClientFor(Key);
        using var leave = new CancellationTokenSource();
        var sent = client.PostAsync("/v1/batch", Batch(2, "never answered [[sim ttft=30000]]"), leave.Token);

        var busy = await Eventually.WaitAsync(() => _host.QuotaAsync("t1"), q => (int)q["in_flight"]! == 2);
        Assert.Equal(2, (int)busy!["in_flight"]!);
        await leave.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sent);

        var quota = await _host.WaitForIdleAsync("t1");
        var usage = await Eventually.WaitAsync(() => _host.UsageAsync("t1"), u => (long)u["requests"]! >= 2);
        Assert.Equal(2, (long)usage!["requests"]!);
        Assert.Equal(2, (long)usage["by_ending"]!["client_disconnected"]!);
        Assert.Equal(0, (long)quota["spent_nanos"]!); // cancelled before the upstream answered: nothing consumed
    }
}
