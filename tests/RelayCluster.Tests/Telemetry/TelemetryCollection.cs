namespace RelayCluster.Tests.Telemetry;

/// <summary>
/// The telemetry tests, run alone (after the parallel collections). OpenTelemetry follows meters by name across the
/// process, so a scrape here sees every live host's <c>RelayCluster</c>, ASP.NET Core and Orleans meters; and when
/// another host is disposed, its meters' end deactivates the shared metric streams in this host's provider, which can
/// drop a series between two scrapes. One process serves one host in production; the tests keep it that way.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TelemetryCollection
{
    public const string Name = "telemetry";
}
