using System.Text.Json.Nodes;
using RelayCluster.Upstreams.Simulator;

namespace RelayCluster.MockUpstream;

/// <summary>
/// A whole-server fault, switched at run time, for resilience tests that need one upstream down while
/// another (given the same prompt) is up: <c>POST /mock/fault {"status":503}</c> fails every model call with
/// that status until <c>{"status":null}</c>. <c>GET /mock/stats</c> counts the model calls that reached it (Anthropic's too).
/// Both answer without the API key (they are test controls, not the upstream's API).
/// </summary>
internal sealed class MockFaults
{
    private long _calls;

    public int? FailStatus { get; set; }

    /// <summary>Counts the call; answers it with the fault when one is set, else returns null to serve it.</summary>
    public Task? Serve(HttpContext context)
    {
        Interlocked.Increment(ref _calls);
        if (FailStatus is not { } status)
        {
            return null;
        }

        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.Body.WriteAsync(SimulatorEngine.ErrorBody(status)).AsTask();
    }

    public long Calls => Interlocked.Read(ref _calls);

    /// <summary>Counts a call served elsewhere (the Anthropic endpoint), which the fault does not apply to.</summary>
    public void Count() => Interlocked.Increment(ref _calls);
}

internal static class MockFaultsApi
{
    public static void MapMockFaults(this WebApplication app, MockFaults faults)
    {
        // Ahead of the API-key check: the controls are the test's, not the upstream API's.
        app.Use(async (context, next) =>
        {
            var path = context.Request.Path;
            if (path == "/mock/stats" && HttpMethods.IsGet(context.Request.Method))
            {
                await context.Response.WriteAsJsonAsync(new JsonObject { ["calls"] = faults.Calls, ["fail_status"] = faults.FailStatus });
                return;
            }

            if (path == "/mock/fault" && HttpMethods.IsPost(context.Request.Method))
            {
                var body = await System.Text.Json.JsonSerializer.DeserializeAsync<JsonObject>(context.Request.Body);
                faults.FailStatus = body?["status"] is JsonValue v && v.TryGetValue<int>(out var status) ? status : null;
                context.Response.StatusCode = 204;
                return;
            }

            await next(context);
        });
    }
}
