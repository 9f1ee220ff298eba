using RelayCluster.Silo.Hosting;
using RelayCluster.Silo.Telemetry;

var builder = WebApplication.CreateBuilder(args);
builder.AddRelayConfiguration(args);
// The silo first: hosted services start in the order they were added, and the relay's own (seeding tenants, the demo
// tenant) call grains, so the silo must be active before them.
builder.AddRelayOrleans();
builder.Services.AddRelay();
builder.AddRelayTelemetry();

var app = builder.Build();
app.UseRelayHttp();
app.MapRelayApis();

// Taken now: once the host has stopped, its services (the lifetime among them) are disposed.
var stopping = app.Lifetime.ApplicationStopping;
try
{
    app.Run();
}
catch (OperationCanceledException) when (stopping.IsCancellationRequested)
{
    // The shutdown timeout ran out with streams still open: they were cut and settled as disconnected.
    // That is the configured outcome of a stop, not a crash.
}

/// <summary>Entry point, visible to <c>WebApplicationFactory</c> in the tests.</summary>
public partial class Program;
