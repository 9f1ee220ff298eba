using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

public sealed class UnhandledErrorTests
{
    [Fact]
    public async Task A_bug_before_the_response_is_an_openai_500_with_a_request_id()
    {
        using var host = new RelayHost(
            RelayHost.SimulatorSettings(("Relay:Tenants:t1:Keys:0", "sk-bug-key")),
            replaceServices: services => services.AddSingleton<ITenantGrainFactory, BrokenGrains>());
        using var client = host.ClientFor("sk-bug-key");

        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("trip the bug")));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Matches("^req_[0-9a-f]{32}$", response.Headers.GetValues("x-request-id").Single());
        Assert.Equal("server_error", (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["type"]);
    }

    [Fact]
    public async Task A_bug_while_booking_still_delivers_the_answer_and_frees_the_slot()
    {
        using var host = new RelayHost(
            RelayHost.SimulatorSettings(("Relay:Tenants:t1:Keys:0", "sk-bug-key"), ("Relay:Tenants:t1:MaxConcurrent", "1")),
            replaceServices: services => services.AddSingleton<IUsageLedger, BrokenLedger>());
        using var client = host.ClientFor("sk-bug-key");

        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat("trip the bug")));

        // The upstream answered: the caller gets it. The failure is the relay's to log, and the slot is free.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("chat.completion", (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["object"]);
        Assert.Equal(0, (int)(await host.WaitForIdleAsync("t1"))["in_flight"]!);
    }

    /// <summary>Grains that work for seeding and reads but fail at admission, as a bug in that turn would.</summary>
    private sealed class BrokenGrains : ITenantGrainFactory
    {
        public ITenantGrain GetTenant(string tenantId) => new BrokenGrain(tenantId);

        private sealed class BrokenGrain(string tenantId) : ITenantGrain
        {
            public ValueTask<Admission> AdmitAsync(AdmissionRequest request) => throw new InvalidOperationException("simulated bug");

            public ValueTask<bool> SettleAsync(Settlement settlement) => ValueTask.FromResult(false);

            public ValueTask<bool> RenewAsync(string requestId) => ValueTask.FromResult(false);

            public ValueTask<bool> ReleaseAsync(string requestId) => ValueTask.FromResult(false);

            public ValueTask<QuotaSnapshot> GetQuotaAsync() =>
                ValueTask.FromResult(new QuotaSnapshot(tenantId, TenantLimits.Unlimited, 0, 0, 0, 0, 0, "2026-11", default));

            public ValueTask<Admission?> PrecheckAsync(double capacityShare) => ValueTask.FromResult<Admission?>(null);

            public ValueTask SetLimitsAsync(TenantLimits limits) => ValueTask.CompletedTask;

            public ValueTask<TenantLimits> UpdateLimitsAsync(TenantLimitsPatch patch) => ValueTask.FromResult(TenantLimits.Unlimited);

            public ValueTask SetPausedAsync(bool paused) => ValueTask.CompletedTask;

            public ValueTask<BudgetAlerts> GetAlertsAsync() =>
                ValueTask.FromResult(new BudgetAlerts(0.8, 0.95, true, true, null, false, false, "2026-11", 0, null, []));
        }
    }

    private sealed class BrokenLedger : IUsageLedger
    {
        public void Append(UsageRecord record) => throw new InvalidOperationException("simulated bug");

        public IReadOnlyDictionary<string, long> SpentByTenant(string month) => new Dictionary<string, long>();

        public Task FlushAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;
    }
}
