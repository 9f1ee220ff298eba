using Polly.CircuitBreaker;
using RelayCluster.Silo.Telemetry;
using RelayCluster.Upstreams.Resilience;

namespace RelayCluster.Tests.Telemetry;

/// <summary>
/// <c>relay.upstream.circuit.state</c> sets 1 on the series whose <c>relay.circuit.state</c> equals the provider's health
/// name: a breaker state named otherwise by the provider would leave every series at 0 while it lasts.
/// </summary>
[Collection(TelemetryCollection.Name)]
public sealed class CircuitStateMetricTests
{
    [Fact]
    public void Every_breaker_state_a_provider_reports_has_its_own_circuit_state_series()
    {
        foreach (var state in Enum.GetValues<CircuitState>())
        {
            Assert.Contains(ResilientProvider.CircuitName(state), RelayMetrics.CircuitStateNames);
        }

        Assert.Equal(Enum.GetValues<CircuitState>().Length, Enum.GetValues<CircuitState>().Select(ResilientProvider.CircuitName).Distinct().Count());
    }
}
