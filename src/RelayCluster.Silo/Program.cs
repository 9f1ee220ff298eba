using RelayCluster.Silo.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddRelayConfiguration(args);
builder.Services.AddRelay();

var app = builder.Build();
app.UseRelayHttp();
app.MapRelayApis();
app.Run();

/// <summary>Entry point, visible to <c>WebApplicationFactory</c> in the tests.</summary>
public partial class Program;
