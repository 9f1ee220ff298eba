using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using RelayCluster.Core.Metering;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

public sealed class UnhandledErrorTests
{
    [Fact]
    public async Task A_bug_in_the_relay_is_an_openai_500_with_a_request_id_and_frees_the_slot()
    {
        using var host = new RelayHost(
            RelayHost.SimulatorSettings(("Relay:Tenants:t1:Keys:0", "sk-bug-key"), ("Relay:Tenants:t1:MaxConcurrent", "1")),
            replaceServices: services => services.AddSingleton<IUsageLedger, BrokenLedger>());
        using var client = host.ClientFor("sk-bug-key");

        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("trip the bug")));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Matches("^req_[0-9a-f]{32}$", response.Headers.GetValues("x-request-id").Single());
        Assert.Equal("server_error", (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["type"]);
        Assert.Equal(0, (int)(await host.WaitForIdleAsync("t1"))["in_flight"]!);
    }

    private sealed class BrokenLedger : IUsageLedger
    {
        public void Append(UsageRecord record) => throw new InvalidOperationException("simulated bug");

        public UsageSummary GetSummary(string tenantId, string month) =>
            new(tenantId, month, 0, 0, 0, 0, 0, new Dictionary<string, ModelUsage>(), new Dictionary<string, long>());

        public IReadOnlyDictionary<string, long> SpentByTenant(string month) => new Dictionary<string, long>();

        public Task FlushAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;
    }
}
